import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.js";
import { parseAppDefinition } from "./app-definition.js";

const SOURCE = "app/strata.yaml";

function errorOf(text: string): ConfigError {
  try {
    parseAppDefinition(text, SOURCE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parseAppDefinition", () => {
  test("applies defaults to a minimal definition", () => {
    const def = parseAppDefinition("start: node server.js\n", SOURCE);
    assert.deepEqual(def.start, ["/bin/sh", "-c", "node server.js"]);
    assert.equal(def.port, 8080);
    assert.deepEqual(def.health, {
      path: "/",
      status: 200,
      timeoutMs: 2000,
      retries: 30,
      intervalMs: 200,
    });
    assert.deepEqual(def.hooks, {});
    assert.equal(def.keepReleases, 5);
    assert.deepEqual(def.env, {});
    assert.equal(def.stopTimeoutMs, 10_000);
    assert.deepEqual(def.log, { maxBytes: 10 * 1024 * 1024, keep: 3 });
  });

  test("reads a full definition and freezes it deeply", () => {
    const def = parseAppDefinition(
      [
        "start: [node, server.js]",
        "port: 9000",
        "health: { path: /healthz, status: 204, timeout: 1.5s, retries: 3, interval: 1m }",
        "hooks:",
        "  before_switch: ./hooks/check.sh",
        "  on_failure: { command: echo failed, timeout: 500ms }",
        "keep_releases: 2",
        "env: { GREETING: hello }",
        "stop_timeout: 250ms",
        "log: { max_size: 64KiB, keep: 5 }",
      ].join("\n"),
      SOURCE,
    );
    assert.deepEqual(def.start, ["node", "server.js"]);
    assert.equal(def.port, 9000);
    assert.deepEqual(def.health, {
      path: "/healthz",
      status: 204,
      timeoutMs: 1500,
      retries: 3,
      intervalMs: 60_000,
    });
    assert.deepEqual(def.hooks, {
      before_switch: { command: "./hooks/check.sh", timeoutMs: 60_000 },
      on_failure: { command: "echo failed", timeoutMs: 500 },
    });
    assert.equal(def.keepReleases, 2);
    assert.deepEqual(def.env, { GREETING: "hello" });
    assert.equal(def.stopTimeoutMs, 250);
    assert.deepEqual(def.log, { maxBytes: 64 * 1024, keep: 5 });
    assert.ok(Object.isFrozen(def) && Object.isFrozen(def.health) && Object.isFrozen(def.hooks));
    assert.ok(Object.isFrozen(def.hooks.on_failure) && Object.isFrozen(def.start));
  });

  const cases: Array<[string, string, RegExp]> = [
    ["port: 8080\n", "start", /is required/],
    ["start: x\nports: 1\n", "ports", /unknown key/],
    ["start: x\nhealth: { timeout: 2x }\n", "health.timeout", /duration/],
    ["start: x\nhealth: { timeout: 0s }\n", "health.timeout", /more than 0/],
    // The old grammar read a bare number as milliseconds; the error says what to write now.
    ["start: x\nhealth: { timeout: 0 }\n", "health.timeout", /write "0ms"/],
    ["start: x\nstop_timeout: 250\n", "stop_timeout", /bare number 250 .*write "250ms"/],
    [
      "start: x\nhooks: { on_success: { command: x, timeout: 5000 } }\n",
      "hooks.on_success.timeout",
      /write "5000ms"/,
    ],
    ["start: x\nhealth: { interval: -1s }\n", "health.interval", /duration with a unit/],
    ["start: x\nhealth: { timeuot: 1s }\n", "health.timeuot", /did you mean timeout\?/],
    ["start: x\nhooks: { on_succes: x }\n", "hooks.on_succes", /did you mean on_success\?/],
    ["start: x\nhooks: { on_success: '' }\n", "hooks.on_success.command", /command/],
    [
      "start: x\nhooks: { on_success: { command: x, retries: 2 } }\n",
      "hooks.on_success.retries",
      /unknown key/,
    ],
    ["start: x\nhealth: { path: healthz }\n", "health.path", /starting with/],
    ["start: x\nhealth: { verbose: true }\n", "health.verbose", /unknown key/],
    ["start: x\nhealth: 5\n", "health", /mapping/],
    ["start: x\nport: '8080'\n", "port", /integer/],
    ["start: x\nport: 70000\n", "port", /integer/],
    ["start: []\n", "start", /command/],
    ["start: [node, 3]\n", "start", /command/],
    ["start: x\nhooks: { after_deploy: x }\n", "hooks.after_deploy", /unknown key/],
    ["start: x\nhooks: { on_success: { timeout: 2s } }\n", "hooks.on_success.command", /command/],
    [
      "start: x\nhooks: { on_success: { command: x, timeout: soon } }\n",
      "hooks.on_success.timeout",
      /duration/,
    ],
    ["start: x\nenv: { COUNT: 3 }\n", "env.COUNT", /string/],
    ["start: x\nenv: { PORT: '1' }\n", "env.PORT", /reserved/],
    ["start: x\nenv: { STRATA_X: '1' }\n", "env.STRATA_X", /reserved/],
    ["start: x\nenv: { 'A-B': '1' }\n", "env.A-B", /variable name/],
    ["start: x\nkeep_releases: 0\n", "keep_releases", /integer/],
    ["start: x\nstop_timeout: forever\n", "stop_timeout", /duration/],
    ["start: x\nlog: { max_size: 10 }\n", "log.max_size", /size with a unit/],
    ["start: x\nlog: { max_size: 10B }\n", "log.max_size", /at least 1KiB/],
    ["start: x\nlog: { keep: 0 }\n", "log.keep", /integer/],
    ["start: x\nlog: { max_bytes: 1MiB }\n", "log.max_bytes", /unknown key/],
    ["- start\n", "(document)", /mapping/],
    ["", "(document)", /mapping/],
    ["start: [x\n", "(document)", /invalid YAML/],
    ["start: x\nstart: y\n", "(document)", /invalid YAML/],
  ];
  for (const [text, key, problem] of cases) {
    test(`rejects ${JSON.stringify(text)} naming ${key}`, () => {
      const err = errorOf(text);
      assert.equal(err.key, key);
      assert.equal(err.code, "invalid_config");
      assert.ok(err.message.startsWith(`[config] ${SOURCE}: `), err.message);
      if (key !== "(document)") assert.ok(err.message.includes(`: ${key}: `), err.message);
      assert.match(err.message, problem);
    });
  }
});

// The agent reads this schema: classic zod (~800 KB bundled) would grow every new server's agent.
test("the app definition bundles with zod/mini only, never classic zod", async () => {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [new URL("./app-definition.ts", import.meta.url).pathname],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((path) => path.includes("zod/v4/mini")));
  assert.deepEqual(
    inputs.filter((path) => path.includes("zod/v4/classic")),
    [],
  );
});
