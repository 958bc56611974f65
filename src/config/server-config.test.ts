import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../lib/errors.js";
import { loadServerConfig, parseServerConfig } from "./server-config.js";

const SOURCE = "strata.yaml";

function errorOf(text: string, parse = (t: string) => parseServerConfig(t, SOURCE)): ConfigError {
  try {
    parse(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("parseServerConfig", () => {
  let cwd = "";
  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), "strata-server-config-"));
    await mkdir(join(cwd, "recipes", "web"), { recursive: true });
  });
  after(() => rm(cwd, { recursive: true, force: true }));

  test("an empty file gives every default, deep-frozen", () => {
    const config = parseServerConfig("", SOURCE);
    assert.deepEqual(
      { ...config, settings: undefined, sections: undefined },
      {
        dataDir: ".strata",
        listen: { host: "127.0.0.1", port: 7700 },
        addressPrefix: "127.0.0",
        balancerHost: "127.0.0.1",
        heartbeatTimeoutMs: 15_000,
        heartbeatMs: 5_000,
        serverTimeoutMs: 600_000,
        drainMs: 10_000,
        clusterJoinToken: false,
        tls: "auto",
        settings: undefined,
        sections: undefined,
      },
    );
    assert.equal(config.settings.forecast.horizonHours, 48);
    assert.deepEqual(config.settings.groups, {});
    assert.equal(config.settings.images.keep, 5);
    assert.deepEqual(config.sections, {});
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.listen));
    assert.ok(Object.isFrozen(config.settings.forecast) && Object.isFrozen(config.settings));
  });

  test("reads every key of every section", () => {
    const config = parseServerConfig(
      [
        "data_dir: /var/lib/strata",
        "listen: 127.0.0.1:7800",
        "provider: { local: { address_prefix: 127.0.9 } }",
        "balancer: { host: 127.0.0.9 }",
        "heartbeat_interval: 300ms",
        "heartbeat_timeout: 3s",
        "deploy: { server_timeout: 1.5m, drain_timeout: 1s }",
        "join: { cluster_token: true }",
        "tls: on",
        "forecast: { daily: false, at: '23:45', zone: Europe/Berlin, horizon: 2d, model: profile, history: 4w, min_history: 72h }",
        "groups:",
        "  web: { recipe: ./recipes/web, provision_timeout: 90s }",
        "  api:",
        "images: { keep: 3 }",
      ].join("\n"),
      SOURCE,
      {},
      { cwd },
    );
    assert.equal(config.dataDir, "/var/lib/strata");
    assert.deepEqual(config.listen, { host: "127.0.0.1", port: 7800 });
    assert.equal(config.addressPrefix, "127.0.9");
    assert.equal(config.balancerHost, "127.0.0.9");
    assert.equal(config.heartbeatMs, 300);
    assert.equal(config.heartbeatTimeoutMs, 3_000);
    assert.equal(config.serverTimeoutMs, 90_000);
    assert.equal(config.drainMs, 1_000);
    assert.equal(config.clusterJoinToken, true);
    assert.equal(config.tls, "on");
    assert.deepEqual(config.settings.forecast, {
      daily: false,
      atMinute: 23 * 60 + 45,
      zone: "Europe/Berlin",
      horizonHours: 48,
      model: "profile",
      historyHours: 4 * 168,
      minHistoryHours: 72,
    });
    assert.deepEqual(config.settings.groups, {
      web: { recipe: join(cwd, "recipes", "web"), provisionTimeoutMs: 90_000 },
      api: { recipe: null, provisionTimeoutMs: 600_000 },
    });
    assert.equal(config.settings.images.keep, 3);
    // The raw sections stay for the readers that take them (parseForecastConfig and co.).
    assert.deepEqual(Object.keys(config.sections).sort(), ["forecast", "groups", "images"]);
    assert.equal((config.sections.forecast as { horizon: string }).horizon, "2d");
    assert.ok(Object.isFrozen(config.sections.forecast));
  });

  test("flags and env override the file and are checked as the key they replace", async () => {
    const file = join(cwd, "strata.yaml");
    await writeFile(file, "data_dir: from-file\nlisten: 127.0.0.1:1\n");
    const config = await loadServerConfig({
      file,
      env: { STRATA_DATA_DIR: "from-env", STRATA_LISTEN: "127.0.0.1:2" },
      flags: { listen: "127.0.0.1:3" },
    });
    assert.equal(config.dataDir, "from-env");
    assert.equal(config.listen.port, 3);
    const err = errorOf("", (t) => parseServerConfig(t, SOURCE, { listen: "nowhere" }));
    assert.equal(err.key, "listen");
  });

  test("a missing named file is an error, a missing default file is not", async () => {
    await assert.rejects(loadServerConfig({ file: join(cwd, "none.yaml"), env: {} }), (err) => {
      return err instanceof ConfigError && err.key === "config" && /cannot read/.test(err.message);
    });
  });

  const cases: Array<[string, string, RegExp]> = [
    // The document
    ["- a\n", "config", /must be a mapping, got a list/],
    ["listen: [1\n", "config", /invalid YAML/],
    ["listen: a\nlisten: b\n", "config", /invalid YAML/],
    // Unknown keys at every level, with a "did you mean" for near misses
    [
      "data_dri: x\n",
      "data_dri",
      /unknown key \(did you mean data_dir\? expected one of data_dir,/,
    ],
    [
      "deploy: { server_timeot: 10s }\n",
      "deploy.server_timeot",
      /unknown key \(did you mean server_timeout\? expected one of server_timeout, drain_timeout\)/,
    ],
    ["provider: { locl: {} }\n", "provider.locl", /did you mean local\?/],
    ["provider: { local: { prefix: 127.0.1 } }\n", "provider.local.prefix", /unknown key/],
    ["balancer: { hots: x }\n", "balancer.hots", /did you mean host\?/],
    ["forecast: { horizn: 2d }\n", "forecast.horizn", /did you mean horizon\?/],
    ["groups: { web: { recipes: x } }\n", "groups.web.recipes", /did you mean recipe\?/],
    ["images: { kep: 2 }\n", "images.kep", /did you mean keep\?/],
    ["join: { cluster_tokens: true }\n", "join.cluster_tokens", /did you mean cluster_token\?/],
    ["join: { cluster_token: yes please }\n", "join.cluster_token", /true or false/],
    ["tls: yes\n", "tls", /must be one of auto, on, off, got "yes"/],
    ["zzz: 1\n", "zzz", /^\[config\] strata\.yaml: zzz: unknown key \(expected one of/],
    // Accepted once without being read: now an unknown key (scaling is its own section)
    ["scale: { min: 2 }\n", "scale", /unknown key/],
    ["scaling: { web: { capacity_per_server: 40, min: 2, max: 1 } }\n", "scaling.web.min", /min/],
    // Wrong types
    ["data_dir: 3\n", "data_dir", /must be a non-empty string, got 3/],
    ["data_dir: ''\n", "data_dir", /non-empty string/],
    ["listen: 7700\n", "listen", /host:port/],
    ["listen: 127.0.0.1:99999\n", "listen", /host:port/],
    ["provider: local\n", "provider", /must be a mapping, got "local"/],
    [
      "provider: { local: { address_prefix: 10.0.0 } }\n",
      "provider.local.address_prefix",
      /loopback/,
    ],
    ["deploy: [1]\n", "deploy", /must be a mapping, got a list/],
    ["forecast: { daily: maybe }\n", "forecast.daily", /true or false/],
    ["forecast: { model: prophet }\n", "forecast.model", /must be one of auto,/],
    ["forecast: { zone: Mars/Olympus }\n", "forecast.zone", /unknown time zone/],
    ["groups: [web]\n", "groups", /must be a mapping/],
    ["groups: { Web: {} }\n", "groups.Web", /lowercase letters/],
    ["groups: { web: { recipe: ./nowhere } }\n", "groups.web.recipe", /is not a folder/],
    ["images: { keep: 0 }\n", "images.keep", /integer from 1 to 1000/],
    // Durations: a unit is required everywhere; a bare number says what to write
    ["heartbeat_interval: 5s\nheartbeat_timeout: 2\n", "heartbeat_timeout", /write "2ms"/],
    ["heartbeat_interval: 300\n", "heartbeat_interval", /bare number 300 .*write "300ms"/],
    [
      "heartbeat_interval: 20s\n",
      "heartbeat_timeout",
      /must be longer than heartbeat_interval \(20s\), got 15s/,
    ],
    ["deploy: { server_timeout: soon }\n", "deploy.server_timeout", /duration with a unit/],
    ["deploy: { drain_timeout: 0s }\n", "deploy.drain_timeout", /more than 0/],
    ["groups: { web: { provision_timeout: 600 } }\n", "groups.web.provision_timeout", /"600ms"/],
    ["forecast: { horizon: 48 }\n", "forecast.horizon", /once meant|meant hours.*write "48h"/],
    ["forecast: { min_history: 28 }\n", "forecast.min_history", /write "28h"/],
    ["forecast: { horizon: 90m }\n", "forecast.horizon", /whole hours/],
    ["forecast: { horizon: 2w }\n", "forecast.horizon", /at most 1w/],
    ["forecast: { history: 2w, min_history: 3w }\n", "forecast.min_history", /at most history/],
  ];
  for (const [text, key, problem] of cases) {
    test(`rejects ${JSON.stringify(text)} naming ${key}`, () => {
      const err = errorOf(text);
      assert.equal(err.key, key);
      assert.equal(err.code, "invalid_config");
      const prefix = key === "config" ? `[config] ${SOURCE}: ` : `[config] ${SOURCE}: ${key}: `;
      assert.ok(err.message.startsWith(prefix), err.message);
      assert.match(err.message, problem);
    });
  }

  // Regression: a value inside a union (`state`, `coordination`, `artifacts`: a bare name or a
  // mapping of one kind) was reported as "state: has no accepted form", naming neither the
  // inner key nor what it takes.
  const unionCases: Array<[string, string, RegExp]> = [
    [
      "coordination: 10",
      "coordination",
      /coordination: must be embedded or a mapping of one of embedded, etcd, got 10$/,
    ],
    ["state: { postgres: { url: 3 } }", "state.postgres.url", /: must be a string, got 3$/],
    ["state: { postgres: {} }", "state.postgres.url", /state\.postgres\.url: is required$/],
    ["state: mysql", "state", /state: unknown kind "mysql" \(expected sqlite or a mapping/],
    ["state: [1]", "state", /state: must be sqlite or a mapping of one of sqlite, postgres/],
    ["state: { mysql: {} }", "state.mysql", /state\.mysql: unknown key/],
    [
      "state: { postgres: { url: 'postgres://db', max_connections: 0 } }",
      "state.postgres.max_connections",
      /: must be at least 1, got 0$/,
    ],
    [
      "state: { postgres: { url: 'postgres://db', max_connections: 1.5 } }",
      "state.postgres.max_connections",
      /: must be an integer, got 1\.5$/,
    ],
    [
      "coordination: { etcd: { endpoints: [] } }",
      "coordination.etcd.endpoints",
      /: must be at least 1 entry, got a list$/,
    ],
    [
      "coordination: { etcd: { endpoints: ['http://a:2379'], lease_ttl: 10 } }",
      "coordination.etcd.lease_ttl",
      /: expected a duration .*, got 10$/,
    ],
    [
      "coordination: { etcd: { endpoints: [3] } }",
      "coordination.etcd.endpoints.0",
      /: expected an http\(s\):\/\/ URL$/,
    ],
    ["artifacts: 5", "artifacts", /artifacts: must be local or a mapping of one of local, s3/],
    [
      "artifacts: { s3: { endpoint: 'http://s3', bucket: 'strata', region: 3 } }",
      "artifacts.s3.region",
      /artifacts\.s3\.region: must be a string, got 3$/,
    ],
    ["tls: maybe", "tls", /tls: must be one of auto, on, off, got "maybe"$/],
    ["agent_tokens: { grace: 10 }", "agent_tokens.grace", /: expected a duration .*bare number/],
    ["agent_tokens: { rotate_after: 10s }", "agent_tokens.rotate_after", /at least 1m/],
  ];
  for (const [text, key, problem] of unionCases) {
    test(`names the full key and what it takes: ${text}`, () => {
      const err = errorOf(text);
      assert.equal(err.key, key, err.message);
      const line = err.message.split("\n").find((l) => l.includes(`: ${key}: `));
      assert.ok(line, err.message);
      assert.match(line, problem);
    });
  }

  test("lists every problem of a bad file, unknown keys first", () => {
    const err = errorOf("deploy: { server_timeout: 5, drain_timeot: 1s }\nimages: { keep: x }\n");
    assert.equal(err.key, "deploy.drain_timeot");
    const lines = err.message.split("\n");
    assert.equal(lines.length, 3, err.message);
    assert.ok(lines.every((line) => line.startsWith(`[config] ${SOURCE}: `)));
    assert.match(lines[1]!, /deploy\.server_timeout: /);
    assert.match(lines[2]!, /images\.keep: /);
  });

  test("the scaling section (src/scale/scale-config.ts) is validated at load, naming the key", () => {
    const parse = (text: string) => parseServerConfig(text, SOURCE);
    const config = parse(
      "scaling: { web: { capacity_per_server: 40, lead_time: auto, mode: on } }",
    );
    assert.equal(config.settings.scaling?.web?.capacity_per_server, 40);
    assert.equal(config.settings.scaling?.web?.mode, "on");
    const bad: Array<[string, string]> = [
      ["scaling: { web: { capacity_per_server: 40, mode: always } }", "scaling.web.mode"],
      ["scaling: { web: { capacity_per_server: 40, capacity: 4 } }", "scaling.web.capacity"],
      ["scale: { web: {} }", "scale"],
    ];
    for (const [text, key] of bad) assert.equal(errorOf(text, parse).key, key, text);
  });

  test("a section can nest under provider or balancer (provider.openstack, balancer.octavia)", () => {
    const config = parseServerConfig(
      "provider: { local: {}, openstack: { flavor: f, network: none, base_image: b } }",
      SOURCE,
    );
    assert.equal(config.settings["provider.openstack"]?.flavor, "f");
    assert.equal(config.addressPrefix, "127.0.0");
    assert.equal(
      errorOf("provider: { openstack: { flavor: f, network: none, base_image: b, region: x } }")
        .key,
      "provider.openstack.region",
    );
    assert.match(errorOf("provider: { openstack: {} }").key, /^provider\.openstack/);
  });
});
