import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { strataCommand } from "../../src/lib/self.js";

test(
  "strata server logs JSON lines when its stderr is not a terminal",
  { timeout: 120_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "strata-e2e-logs-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, "strata.yaml");
    await writeFile(
      config,
      'listen: "127.50.0.1:0"\nprovider: { local: { address_prefix: "127.50.6" } }\nbalancer: { host: 127.50.0.1 }\n',
    );
    const [node, ...args] = strataCommand();
    const child = spawn(
      node!,
      [...args, "--data-dir", join(dir, "data"), "server", "--config", config],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, STRATA_LOG_FORMAT: "" },
      },
    );
    t.after(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    const listening = new Promise<void>((resolve) =>
      child.stderr.on("data", (chunk: string) => {
        stderr += chunk;
        if (stderr.includes("listening on")) resolve();
      }),
    );
    await Promise.race([
      listening,
      once(child, "exit").then(() => assert.fail(`exited: ${stderr}`)),
    ]);
    child.kill("SIGTERM");
    const [code] = await once(child, "exit");
    assert.equal(code, 0, stderr);
    const lines = stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.match(lines[0]!.msg!, /^strata control plane listening on http:\/\/127\.50\.0\.1:\d+/);
    assert.equal(lines[0]!.component, "server");
    assert.equal(lines[0]!.level, "info");
    assert.ok(!Number.isNaN(Date.parse(lines[0]!.time!)));
    assert.equal(lines.at(-1)!.msg, "stopped");
  },
);
