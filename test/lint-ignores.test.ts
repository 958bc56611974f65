import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const REPO = fileURLToPath(new URL("..", import.meta.url));

// Defect 1 of issue 15: after `npm run demo`, `npm run check` failed with 45 eslint errors
// in .strata-demo/servers/strata-agent.mjs: lint ignored .strata/ but not the demo's data folder.
test("lint ignores the demo's data folder and any control plane's data folder (issue 15, defect 1)", async () => {
  const other = await mkdtemp(join(REPO, "lint-test-data-"));
  try {
    for (const token of ["admin-token", "join-token"]) await writeFile(join(other, token), "x\n");
    await writeFile(join(other, "bundle.mjs"), "var unused = 1;\n");
    const script = `
      const { ESLint } = await import("eslint");
      const eslint = new ESLint({ cwd: ${JSON.stringify(REPO)} });
      const paths = process.argv.slice(1);
      console.log(JSON.stringify(await Promise.all(paths.map((p) => eslint.isPathIgnored(p)))));`;
    const paths = [
      ".strata-demo/servers/strata-agent.mjs",
      ".strata/servers/web-1/current/server.mjs",
      `${basename(other)}/bundle.mjs`,
      "src/cli/main.ts",
    ];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "-e", script, ...paths],
      { cwd: REPO },
    );
    assert.deepEqual(JSON.parse(stdout), [true, true, true, false]);
  } finally {
    await rm(other, { recursive: true, force: true });
  }
});
