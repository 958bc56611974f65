import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import { registerForecastCommands } from "./forecast.js";

async function run(args: string[]): Promise<string> {
  const program = new Command("strata").exitOverride();
  registerForecastCommands(program);
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

/** 35 days of hourly epoch-second rows with a daily cycle. */
function trace(): string {
  const start = Date.parse("2024-01-01T00:00:00Z") / 1000;
  const lines = ["ts,hits"];
  for (let i = 0; i < 35 * 24; i++)
    lines.push(`${start + i * 3600},${100 + 50 * Math.sin((2 * Math.PI * i) / 24) + (i % 5)}`);
  return lines.join("\n");
}

describe("strata forecast backtest", () => {
  test("--json prints one document with the contract and the scores", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-cli-forecast-"));
    try {
      const input = join(dir, "t.csv");
      await writeFile(input, trace());
      const out = await run([
        "forecast",
        "backtest",
        "--input",
        input,
        "--time-column",
        "ts",
        "--value-column",
        "hits",
        "--model",
        "profile",
        "--json",
      ]);
      const doc = JSON.parse(out);
      assert.equal(doc.model, "profile");
      assert.equal(doc.contract.origins, 7);
      assert.equal(doc.contract.forecastHours, 7 * 24);
      assert.deepEqual(
        doc.scores.map((s: { model: string }) => s.model),
        ["profile", "snaive-week"],
      );
      assert.equal(doc.series.start, "2024-01-01T00:00:00Z");
      const human = await run([
        "forecast",
        "backtest",
        "--input",
        input,
        "--time-column",
        "ts",
        "--value-column",
        "hits",
        "--min-history",
        "30d",
      ]);
      assert.match(human, /^auto \*\s+\d+\.\d%\s+\d\.\d\d/m);
      assert.match(human, /^winner: \S+ \(\d+\.\d%\)/m);
      assert.match(human, /5 days forecast, 120 hours/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("bad input is a StrataError naming the column or the flag", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-cli-forecast-"));
    try {
      const input = join(dir, "t.csv");
      await writeFile(input, trace());
      await assert.rejects(
        run([
          "forecast",
          "backtest",
          "--input",
          input,
          "--time-column",
          "time",
          "--value-column",
          "hits",
        ]),
        (e: unknown) => e instanceof StrataError && /time column "time"/.test(e.message),
      );
      await assert.rejects(
        run([
          "forecast",
          "backtest",
          "--input",
          input,
          "--time-column",
          "ts",
          "--value-column",
          "hits",
          "--model",
          "magic",
        ]),
        /unknown model "magic"/,
      );
      await assert.rejects(
        run([
          "forecast",
          "backtest",
          "--input",
          input,
          "--time-column",
          "ts",
          "--value-column",
          "hits",
          "--min-history",
          "60d",
        ]),
        /no whole day has 60 days of history/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Regression: `--min-history 28` meant 28 days here and 28 hours in strata.yaml.
  test("--min-history takes a duration with a unit; a bare number asks for one", async () => {
    await assert.rejects(
      run([
        "forecast",
        "backtest",
        "--input",
        "x.csv",
        "--time-column",
        "ts",
        "--value-column",
        "v",
        "--min-history",
        "28",
      ]),
      (err: unknown) =>
        err instanceof StrataError &&
        err.code === "bad_request" &&
        /^\[cli\] --min-history: expected a duration with a unit.*write "28d"/.test(err.message),
    );
    await assert.rejects(
      run([
        "forecast",
        "backtest",
        "--input",
        "x.csv",
        "--time-column",
        "ts",
        "--value-column",
        "v",
        "--min-history",
        "90m",
      ]),
      /--min-history: must be whole hours/,
    );
  });
});
