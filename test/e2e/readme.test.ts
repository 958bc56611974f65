import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { strataCommand } from "../../src/lib/self.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

/** The README's by-hand sequence: the first `sh` block under "The same steps by hand". */
export async function readmeSequence(): Promise<string[]> {
  const readme = await readFile(join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## The same steps by hand"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block.split("\n").filter((l) => l.trim() !== "");
}

// Issue 15, defect 4: the README's sequence failed at `strata rollback` (one version deployed)
// and `strata build examples/hello` only worked from the checkout without saying so.
test(
  "the README's by-hand sequence runs as written (issue 15, defect 4)",
  { timeout: 300_000 },
  async (t) => {
    // A folder laid out like the checkout (examples/hello), with a strata.yaml that keeps the
    // servers on this test's loopback addresses; /tmp/ becomes this folder.
    const dir = await mkdtemp(join(tmpdir(), "strata-e2e-readme-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await cp(join(REPO, "examples", "hello"), join(dir, "examples", "hello"), { recursive: true });
    await writeFile(
      join(dir, "strata.yaml"),
      'listen: "127.50.0.1:0"\nprovider: { local: { address_prefix: "127.50.7" } }\nbalancer: { host: 127.50.0.1 }\nheartbeat_interval: 300ms\n',
    );
    const lines = (await readmeSequence()).map((l) => l.replaceAll("/tmp/", `${dir}/`));
    assert.ok(lines[0]!.startsWith("strata server &"), lines[0]);
    const [node, ...args] = strataCommand();
    const quoted = [node!, ...args].map((a) => `'${a}'`).join(" ");
    const script = [
      "set -euo pipefail",
      // exec for the server, so that $! is the control plane itself.
      `strata() { if [ "$1" = server ]; then exec ${quoted} "$@"; else ${quoted} "$@"; fi; }`,
      lines[0]!,
      "SERVER=$!",
      "trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER || true' EXIT",
      "for i in $(seq 600); do [ -f .strata/server.json ] && break; sleep 0.1; done",
      ...lines.slice(1).map(
        (l) =>
          `echo "+ ${l
            .replace(/["$`\\]/g, "\\$&")
            .split("#")[0]!
            .trim()}"; ${l}`,
      ),
    ].join("\n");
    const { stdout, stderr } = await promisify(execFile)("bash", ["-c", script], {
      cwd: dir,
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^STRATA_/.test(k))),
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err: { stdout: string; stderr: string; code: number }) =>
      assert.fail(`exit ${err.code}\n${err.stdout}\n${err.stderr}`),
    );
    const outcomes = stdout.match(/^deployment \S+ succeeded/gm) ?? [];
    assert.equal(outcomes.length, 3, `deploy 1.0.0, deploy 2.0.0, rollback\n${stdout}\n${stderr}`);
    assert.match(stdout, /group web: app hello desired 2\.0\.0/);
    assert.match(stdout, /terminated 5 server\(s\)/);
  },
);
