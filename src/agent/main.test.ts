import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "node:test";
import { parseAgentArgs } from "./main.js";

test("flags win over the environment; defaults fill the rest", () => {
  const config = parseAgentArgs(
    ["--server", "http://127.40.0.1:7700", "--group", "web", "--root", "/srv/web-3/"],
    { STRATA_SERVER: "http://elsewhere", STRATA_JOIN_TOKEN: "j", STRATA_HEARTBEAT_MS: "300" },
  );
  assert.deepEqual(config, {
    server: "http://127.40.0.1:7700",
    joinToken: "j",
    group: "web",
    root: "/srv/web-3/",
    address: "127.0.0.1",
    name: "web-3",
    heartbeatMs: 300,
    exitWithParent: false,
    ...(process.getuid?.() === 0 ? { appUser: "strata-app" } : {}),
  });
  assert.equal(parseAgentArgs(["--help"], {}), null);
  const limited = parseAgentArgs(["--server", "s", "--group", "g", "--root", "/r"], {
    STRATA_MAX_UNPACKED_SIZE: "64MiB",
  });
  assert.equal(limited?.maxUnpackedBytes, 64 * 1024 ** 2);
});

test("a missing, unknown or malformed flag is a bad_request naming it", () => {
  const cases: [string[], RegExp][] = [
    [["--group", "web", "--root", "/r"], /--server \(or STRATA_SERVER\) is required/],
    [["--server", "s", "--root", "/r"], /--group is required/],
    [["--server", "s", "--group", "g", "--root", "/r", "--colour"], /Unknown option '--colour'/],
    [["--server", "s", "--group", "g", "--root", "/r", "--address", "x"], /--address: expected/],
    [
      ["--server", "s", "--group", "g", "--root", "/r", "--max-unpacked-size", "1024"],
      /--max-unpacked-size: expected a size with a unit/,
    ],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseAgentArgs(argv, {}), { code: "bad_request", message });
  }
});

test("strata agent hands its arguments to the agent's own parser", () => {
  const bin = new URL("../../bin/strata.js", import.meta.url).pathname;
  const help = execFileSync(process.execPath, [bin, "agent", "--help"], { encoding: "utf8" });
  assert.match(help, /usage: strata agent/);
  const bad = spawnSync(process.execPath, [bin, "agent", "--server", "s", "--root", "/r"], {
    encoding: "utf8",
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--group is required/);
});
