import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { runCliBatch } from "../capture.js";
import { EXIT } from "../exit-codes.js";
import { agentUnit, systemdQuote } from "./agent-install.js";

const hasSystemdAnalyze = (() => {
  try {
    execFileSync("sh", ["-c", "command -v systemd-analyze"]);
    return true;
  } catch {
    return false;
  }
})();

/** `[Section]` -> key -> values, as systemd reads a unit (comments and blank lines dropped). */
function sections(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const line of text.split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) out.set(header[1]!, (current = new Map()));
    else {
      const [key, ...rest] = line.split("=");
      assert.ok(current && key, `a key inside a section: ${line}`);
      current.set(key, [...(current.get(key) ?? []), rest.join("=")]);
    }
  }
  return out;
}

describe("systemd units", () => {
  let dir = "";
  before(async () => (dir = await mkdtemp(join(tmpdir(), "strata-units-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  test("strata agent install writes a boot-time unit and a 0600 file for the join token", async () => {
    const [run, missing, help] = await runCliBatch([
      {
        args: [
          ...["--server", "http://127.50.0.1:7700", "agent", "install", "--group", "web"],
          ...["--root", join(dir, "srv"), "--address", "127.50.5.2", "--name", "web-1"],
          ...["--unit-dir", join(dir, "units"), "--env-file", join(dir, "etc", "agent.env")],
        ],
        env: { STRATA_JOIN_TOKEN: "join-secret" },
      },
      {
        args: ["agent", "install", "--root", "/srv", "--dry-run"],
        env: { STRATA_SERVER: "http://x" },
      },
      // Regression: the agent command's help, turned off for the agent's own parser, was
      // inherited: `strata agent install --help` failed with "unknown option '--help'".
      { args: ["agent", "install", "--help"] },
    ]);
    assert.equal(help!.code, EXIT.OK, help!.stderr);
    assert.match(help!.stdout, /Usage: strata agent install/);
    assert.equal(run!.code, EXIT.OK, run!.stderr);
    const unitPath = join(dir, "units", "strata-agent.service");
    const text = await readFile(unitPath, "utf8");
    const unit = sections(text);
    const exec = unit.get("Service")!.get("ExecStart")![0]!;
    assert.match(
      exec,
      /^\/\S+node \/\S+\/bin\/strata\.js agent --server http:\/\/127\.50\.0\.1:7700 --group web --root \S+\/srv --address 127\.50\.5\.2 --name web-1$/,
    );
    assert.deepEqual(unit.get("Service")!.get("Restart"), ["always"]);
    assert.deepEqual(unit.get("Install")!.get("WantedBy"), ["multi-user.target"]);
    assert.doesNotMatch(text, /join-secret/, "the token is not in the unit");
    const env = join(dir, "etc", "agent.env");
    assert.equal(await readFile(env, "utf8"), "STRATA_JOIN_TOKEN=join-secret\n");
    assert.equal((await stat(env)).mode & 0o777, 0o600);
    assert.equal(missing!.code, EXIT.USAGE);
    assert.match(missing!.stderr, /required option '--group <group>'/);
  });

  test(
    "the agent unit passes systemd-analyze verify",
    { skip: hasSystemdAnalyze ? false : "systemd-analyze is not installed" },
    async () => {
      const path = join(dir, "strata-agent.service");
      await writeFile(
        path,
        agentUnit({
          server: "http://127.50.0.1:7700",
          group: "web",
          root: "/srv/strata",
          address: "127.50.5.2",
          envFile: "/etc/strata/agent.env",
        }),
      );
      const { stderr } = await promisify(execFile)("systemd-analyze", ["verify", path]);
      assert.doesNotMatch(stderr, /strata-agent\.service/, stderr);
    },
  );

  test("the control plane's unit runs strata server from its folder at boot", async () => {
    const text = await readFile(
      new URL("../../../packaging/systemd/strata-server.service", import.meta.url),
      "utf8",
    );
    const unit = sections(text);
    assert.deepEqual(unit.get("Service")!.get("ExecStart"), ["/usr/bin/env strata server"]);
    assert.deepEqual(unit.get("Service")!.get("WorkingDirectory"), ["/var/lib/strata"]);
    assert.deepEqual(unit.get("Install")!.get("WantedBy"), ["multi-user.target"]);
  });

  test("ExecStart words are quoted by systemd's rules", () => {
    assert.equal(systemdQuote("/srv/strata"), "/srv/strata");
    assert.equal(systemdQuote('a b"$%'), '"a b\\"$$%%"');
  });
});
