import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Command } from "commander";
import { registerSimulateCommand } from "./simulate.js";

async function run(args: string[]): Promise<string> {
  const program = new Command("strata").exitOverride();
  registerSimulateCommand(program);
  let out = "";
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await program.parseAsync(["node", "strata", ...args]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return out;
}

/** Three days of 5-minute rows with a daily cycle. */
function trace(): string {
  const t0 = Date.UTC(2024, 0, 1);
  const lines = ["time,requests"];
  for (let i = 0; i < 3 * 288; i++) {
    const t = new Date(t0 + i * 300_000).toISOString();
    lines.push(`${t},${Math.round(300 + 200 * Math.sin((2 * Math.PI * i) / 288))}`);
  }
  return lines.join("\n") + "\n";
}

describe("strata simulate", () => {
  test("--json prints the contract's document; --csv writes one row per step", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-cli-simulate-"));
    try {
      const input = join(dir, "t.csv");
      const csv = join(dir, "steps.csv");
      await writeFile(input, trace());
      const out = await run([
        "simulate",
        "--input",
        input,
        "--time-column",
        "time",
        "--value-column",
        "requests",
        "--policy",
        "oracle",
        "--min-history",
        "1d",
        "--json",
        "--csv",
        csv,
      ]);
      const doc = JSON.parse(out);
      assert.deepEqual(Object.keys(doc), [
        "trace",
        "lag_minutes",
        "peak_servers",
        "evaluated_minutes",
        "policies",
      ]);
      assert.equal(doc.lag_minutes, 10);
      assert.equal(doc.peak_servers, 40);
      assert.equal(doc.evaluated_minutes, 2 * 1440);
      assert.deepEqual(Object.keys(doc.policies[0]), [
        "policy",
        "server_hours",
        "under_server_minutes",
        "overload_minutes",
        "actions",
      ]);
      assert.equal(doc.policies[0].overload_minutes, 0);
      const rows = (await readFile(csv, "utf8")).trim().split("\n");
      assert.equal(rows[0], "time,demand,needed,missing,oracle_in_service,oracle_billed");
      assert.equal(rows.length, 1 + 2 * 288);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("rejects an unknown policy and a bare-number lag", async () => {
    await assert.rejects(
      run([
        "simulate",
        "--input",
        "x",
        "--time-column",
        "t",
        "--value-column",
        "v",
        "--policy",
        "magic",
      ]),
      /unknown policy "magic"/,
    );
    await assert.rejects(
      run(["simulate", "--input", "x", "--time-column", "t", "--value-column", "v", "--lag", "10"]),
      /--lag/,
    );
  });
});
