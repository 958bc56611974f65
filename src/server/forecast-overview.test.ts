import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { DEFAULT_FORECAST_CONFIG } from "../forecast/service/forecast-config.js";
import { createForecastService } from "../forecast/service/forecast-service.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { Store } from "../store/store.js";
import { forecastOverview } from "./forecast-overview.js";

const H = 3_600_000;
const ORIGIN = Date.parse("2024-03-01T00:00:00Z");

describe("forecast overview: yesterday's forecast against what happened", () => {
  let store: Store;
  let now = ORIGIN;
  const clock = { now: () => now, sleep: async () => {} };

  beforeEach(async () => {
    store = createSqliteStore({ path: ":memory:" });
    now = ORIGIN;
  });
  afterEach(() => store.close());

  const deps = () => ({
    store,
    clock,
    forecasts: createForecastService({
      traffic: store.traffic,
      repo: store.forecasts,
      config: DEFAULT_FORECAST_CONFIG,
      clock,
    }),
  });

  const storeForecast = (origin: number, mean: number[], p90: number[]) =>
    store.forecasts.insert({
      app: "hello",
      origin,
      createdAt: origin + 60_000,
      trigger: "daily",
      requestedModel: "auto",
      model: "profile",
      zone: "UTC",
      historyFrom: null,
      historyHours: 0,
      missingHours: 0,
      mean,
      p90,
    });

  /** `total` requests in the first minute of the hour. */
  const observe = (hour: number, total: number) =>
    store.traffic.add("hello", [
      { minute: ORIGIN + hour * H, total, s2xx: total, s3xx: 0, s4xx: 0, s5xx: 0 },
    ]);

  test("holds the forecast made a day ago against the counted hours, events applied", async () => {
    const old = await storeForecast(ORIGIN, [100, 100, 100, 100], [120, 120, 120, 120]);
    await observe(0, 110); // within p90
    await observe(1, 150); // above p90
    // hour 2 has no data
    await observe(3, 90);
    await store.forecasts.addEvent({
      app: "hello",
      from: ORIGIN + 3 * H,
      to: ORIGIN + 4 * H,
      factor: 2,
      note: "campaign",
      createdAt: ORIGIN,
    });
    now = ORIGIN + 26 * H;
    const { apps } = await forecastOverview(deps());
    assert.equal(apps.length, 1);
    const y = apps[0]!.yesterday!;
    assert.equal(y.id, old.id);
    assert.deepEqual(
      y.hours.map((h) => [h.mean, h.p90, h.observed]),
      [
        [100, 120, 110],
        [100, 120, 150],
        [100, 120, null],
        [200, 240, 90],
      ],
    );
    assert.equal(y.wape, (10 + 50 + 110) / (110 + 150 + 90));
    assert.equal(y.p90_coverage, 2 / 3);
    assert.equal(apps[0]!.backtest, null);
  });

  test("no forecast a day old: none to compare; a newer one is the latest only", async () => {
    now = ORIGIN + 2 * H;
    await storeForecast(ORIGIN, [1], [2]);
    const { apps } = await forecastOverview(deps());
    assert.equal(apps[0]!.yesterday, null);
    assert.equal(apps[0]!.latest?.hours.length, 1);
  });

  test("an app of a group without forecasts is listed with nothing yet", async () => {
    await store.groups.ensure("web");
    await store.groups.update("web", { app: "shop" });
    const { apps } = await forecastOverview(deps());
    assert.deepEqual(
      apps.map((a) => [a.app, a.latest, a.yesterday]),
      [["shop", null, null]],
    );
  });
});
