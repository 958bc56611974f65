import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { bundleAgent } from "./agent-bundle.js";

test("the agent bundle holds no CLI or control-plane code (issue 7: the agent is standalone; issue 15: its /metrics and tasks)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-bundle-"));
  try {
    const { argv, inputs } = await bundleAgent(dir);
    assert.ok(
      inputs.some((file) => file.endsWith("src/agent/agent.ts")),
      "the agent is in it",
    );
    assert.ok(
      inputs.some((file) => file.endsWith("src/ops/agent-tasks.ts")),
      "its task runner too",
    );
    assert.deepEqual(
      inputs.filter(
        (file) =>
          file.includes("src/cli/") ||
          file.includes("src/server/") ||
          file.includes("node_modules/commander/") ||
          file.includes("node_modules/hono/"),
      ),
      [],
    );
    const help = execFileSync(argv[0]!, [...argv.slice(1), "--help"], { encoding: "utf8" });
    assert.match(help, /usage: strata agent --server URL --group G --root DIR/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
