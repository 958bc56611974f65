import assert from "node:assert/strict";
import { test } from "node:test";
import { parse } from "yaml";
import { ConfigError } from "../../lib/errors.js";
import { DEFAULT_FORECAST_CONFIG, formatAt, parseForecastConfig } from "./forecast-config.js";

const sections = (yaml: string) => ({ forecast: parse(yaml) as unknown });

test("a missing section gives the defaults", () => {
  assert.deepEqual(parseForecastConfig({}), DEFAULT_FORECAST_CONFIG);
  assert.equal(formatAt(DEFAULT_FORECAST_CONFIG.atMinute), "00:10");
});

test("every key is read", () => {
  const config = parseForecastConfig(
    sections(
      "{ daily: false, at: '23:45', zone: Europe/Berlin, horizon: 2d, model: profile, history: 4w, min_history: 72h }",
    ),
  );
  assert.deepEqual(config, {
    daily: false,
    atMinute: 23 * 60 + 45,
    zone: "Europe/Berlin",
    horizonHours: 48,
    model: "profile",
    historyHours: 4 * 168,
    minHistoryHours: 72,
  });
});

test("bad values are rejected with the key named", () => {
  const cases: [string, string][] = [
    ["[1]", "forecast"],
    ["{ when: '00:10' }", "forecast.when"],
    ["{ daily: yes please }", "forecast.daily"],
    ["{ at: '24:00' }", "forecast.at"],
    ["{ at: '7:30' }", "forecast.at"],
    ["{ zone: Europe/Atlantis }", "forecast.zone"],
    ["{ horizon: 90m }", "forecast.horizon"],
    ["{ horizon: 0h }", "forecast.horizon"],
    ["{ horizon: 2w }", "forecast.horizon"],
    ["{ model: prophet }", "forecast.model"],
    ["{ history: 3d }", "forecast.history"],
    ["{ history: 2w, min_history: 3w }", "forecast.min_history"],
    // One duration grammar: a bare number (hours? days?) is refused, as on the CLI.
    ["{ min_history: 168 }", "forecast.min_history"],
    ["{ horizon: 48 }", "forecast.horizon"],
    ["{ min_history: 90m }", "forecast.min_history"],
  ];
  for (const [yaml, key] of cases) {
    assert.throws(
      () => parseForecastConfig(sections(yaml), "strata.yaml"),
      (err) =>
        err instanceof ConfigError &&
        err.key === key &&
        err.message.startsWith(`[config] strata.yaml: ${key}: `),
      yaml,
    );
  }
});
