import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import { ConfigError } from "../lib/errors.js";
import { parseScalingConfig } from "./scale-config.js";

const yaml = (body: string) => `scaling:\n  web:\n${body.replace(/^/gm, "    ")}\n`;

describe("scaling: in strata.yaml", () => {
  it("fills defaults around capacity_per_server", () => {
    const config = parseServerConfig(yaml("capacity_per_server: 50"), "strata.yaml");
    const web = parseScalingConfig(config.sections).get("web")!;
    assert.equal(web.capacityPerServer, 50);
    assert.equal(web.mode, "off");
    assert.equal(web.targetUtilisation, 0.7);
    assert.equal(web.p90Utilisation, null);
    assert.equal(web.leadTime, "auto");
    assert.equal(web.stabilisationMs, 600_000);
    assert.deepEqual({ ...web.guard }, { enabled: true, tolerance: 0.1, windowMs: 120_000 });
  });

  it("reads every key", () => {
    const web = parseScalingConfig(
      parseServerConfig(
        yaml(
          [
            "mode: forecast-only",
            "capacity_per_server: 20",
            "target_utilisation: 0.6",
            "p90_utilisation: 0.9",
            "min: 2",
            "max: 30",
            "lead_time: 3m",
            "lead_time_fallback: 90s",
            "scale_in_stabilisation: 0s",
            "guard: { enabled: false, tolerance: 0.2, window: 3m }",
            "interval: 30s",
          ].join("\n"),
        ),
        "strata.yaml",
      ).sections,
    ).get("web")!;
    assert.equal(web.mode, "forecast-only");
    assert.equal(web.leadTime, 180_000);
    assert.equal(web.leadTimeFallbackMs, 90_000);
    assert.equal(web.stabilisationMs, 0);
    assert.equal(web.p90Utilisation, 0.9);
    assert.equal(web.intervalMs, 30_000);
    assert.deepEqual({ ...web.guard }, { enabled: false, tolerance: 0.2, windowMs: 180_000 });
  });

  const bad: [string, string, RegExp][] = [
    [
      "an unknown key",
      "capacity_per_server: 5\ncapacity_per_serve: 5",
      /scaling\.web\.capacity_per_serve: unknown key/,
    ],
    ["a missing capacity", "min: 1", /scaling\.web\.capacity_per_server/],
    ["a wrong mode", "capacity_per_server: 5\nmode: auto", /scaling\.web\.mode/],
    ["a bare-number duration", "capacity_per_server: 5\nlead_time: 10", /scaling\.web\.lead_time/],
    [
      "a utilisation above 1",
      "capacity_per_server: 5\ntarget_utilisation: 70",
      /scaling\.web\.target_utilisation/,
    ],
    [
      "min above max",
      "capacity_per_server: 5\nmin: 9\nmax: 3",
      /scaling\.web\.min: min must not exceed max/,
    ],
    [
      "an unknown guard key",
      "capacity_per_server: 5\nguard: { tolerence: 0.1 }",
      /scaling\.web\.guard\.tolerence: unknown key/,
    ],
  ];
  for (const [name, body, message] of bad) {
    it(`rejects ${name} at start, naming the key`, () => {
      assert.throws(
        () => parseServerConfig(yaml(body), "strata.yaml"),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  it("rejects the old, unread `scale` section", () => {
    assert.throws(
      () => parseServerConfig("scale:\n  web: {}\n", "strata.yaml"),
      /scale: unknown key/,
    );
  });
});
