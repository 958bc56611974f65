import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StrataError } from "../../lib/errors.js";
import { createSqliteForecastRepo } from "../../store/sqlite/forecast-repo.js";
import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { createSqliteTrafficRepo } from "../../store/sqlite/traffic-repo.js";
import type { ForecastModel } from "../model.js";
import { hourOfDay, type HourlySeries } from "../series.js";
import { DEFAULT_FORECAST_CONFIG, type ForecastConfig } from "./forecast-config.js";
import { createForecastService, type ForecastService } from "./forecast-service.js";
import { createZone } from "./zone.js";

const H = 3_600_000;
const MINUTE = 60_000;
// 10:37 UTC, a Friday; the origin is 10:00.
const NOW = Date.parse("2024-03-29T10:37:00Z");
const ORIGIN = Date.parse("2024-03-29T10:00:00Z");

/** Requests per minute of a site with a daily cycle on Berlin time: busy at 20:00, quiet at 04:00. */
function perMinute(utcMinute: number): number {
  const local = createZone("Europe/Berlin").wall(utcMinute);
  return Math.round(30 + 20 * Math.cos((2 * Math.PI * (hourOfDay(local) - 20)) / 24));
}

async function setup(options: {
  days: number;
  config?: Partial<ForecastConfig>;
  model?: ForecastModel;
}) {
  const store = createSqliteStore({ path: ":memory:" });
  const traffic = createSqliteTrafficRepo(store.db);
  const minutes = [];
  for (let t = ORIGIN - options.days * 24 * H; t < NOW; t += MINUTE) {
    const total = perMinute(t);
    minutes.push({ minute: t, total, s2xx: total, s3xx: 0, s4xx: 0, s5xx: 0 });
  }
  await traffic.add("hello", minutes);
  const audit: string[] = [];
  const service = createForecastService({
    traffic,
    repo: createSqliteForecastRepo(store.db),
    config: { ...DEFAULT_FORECAST_CONFIG, zone: "Europe/Berlin", ...options.config },
    clock: { now: () => NOW, sleep: async () => {} },
    audit: async (action, subject) => void audit.push(`${action} ${subject}`),
    ...(options.model ? { createModel: () => options.model! } : {}),
  });
  return { service, store, audit };
}

/** Forecasts the local hour of day of each hour it is asked for, and remembers what it saw. */
function hourOfDayModel(seen: HourlySeries[]): ForecastModel {
  return {
    name: "hour-of-day",
    forecast(history, horizon) {
      seen.push(history);
      const start = history.start + history.values.length * H;
      const mean = Array.from({ length: horizon }, (_, i) => hourOfDay(start + i * H));
      return { start, mean, p90: mean.map((m) => m + 0.5), model: "hour-of-day" };
    },
  };
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp) {
  await assert.rejects(
    promise,
    (err) => err instanceof StrataError && err.code === code && pattern.test(err.message),
  );
}

describe("forecast service", () => {
  test("run: local hours in, UTC hours out, the history ends at the current hour", async () => {
    const seen: HourlySeries[] = [];
    const { service, store, audit } = await setup({ days: 10, model: hourOfDayModel(seen) });
    const view = await service.run("hello");
    assert.equal(view.origin, "2024-03-29T10:00:00.000Z");
    assert.equal(view.model, "hour-of-day");
    assert.equal(view.zone, "Europe/Berlin");
    assert.equal(view.hours.length, 48);
    // The model saw Berlin hours (UTC+1 until the 31st) and only whole hours before the origin.
    const history = seen[0]!;
    assert.equal(history.start + history.values.length * H, Date.parse("2024-03-29T11:00:00Z"));
    assert.equal(view.history.hours_with_data, 240);
    assert.equal(view.history.from, "2024-03-19T10:00:00.000Z");
    // Each UTC hour carries the forecast of its Berlin hour.
    const berlin = createZone("Europe/Berlin");
    view.hours.forEach((h, i) => {
      assert.equal(h.time, new Date(ORIGIN + i * H).toISOString());
      assert.equal(h.mean, hourOfDay(berlin.wall(ORIGIN + i * H)));
      assert.equal(h.p90, h.mean + 0.5);
      assert.equal(h.factor, 1);
    });
    assert.deepEqual(await service.latest("hello"), view);
    assert.deepEqual(audit, ["forecast.run hello"]);
    await store.close();
  });

  test("run refuses an app with less history than min_history, and says how much it has", async () => {
    const { service, store } = await setup({ days: 3 });
    await rejectsWith(
      service.run("hello"),
      "conflict",
      /hello: 3 days of traffic history .*at least 7 days/,
    );
    await rejectsWith(service.run("nobody"), "conflict", /nobody: 0 hours of traffic history/);
    assert.equal(await service.latest("hello"), null);
    await store.close();
  });

  test("auto on three weeks of a daily cycle on Berlin time forecasts it across the DST change", async () => {
    const { service, store } = await setup({ days: 21 });
    const view = await service.run("hello");
    assert.equal(view.requested_model, "auto");
    let error = 0;
    let total = 0;
    for (const h of view.hours) {
      let actual = 0;
      for (let m = 0; m < 60; m++) actual += perMinute(Date.parse(h.time) + m * MINUTE);
      error += Math.abs(h.mean - actual);
      total += actual;
      assert.ok(h.p90 >= h.mean);
    }
    // The horizon crosses 2024-03-31 01:00Z, when Berlin moves to UTC+2: a forecast on UTC
    // hours would be an hour off from there on.
    assert.ok(error / total < 0.01, `wMAPE ${(error / total).toFixed(3)}`);
    // The score of the replayed backtest on the app's own history is stored and shown.
    assert.ok(view.backtest, "a backtest score");
    assert.ok(view.backtest.days >= 3 && view.backtest.hours === view.backtest.days * 24);
    assert.ok(
      view.backtest.wmape !== null && view.backtest.wmape < 0.05,
      String(view.backtest.wmape),
    );
    assert.deepEqual((await service.latest("hello"))?.backtest, view.backtest);
    await store.close();
  });

  test("events multiply the hours that start in [from, to); overlaps multiply; read-time", async () => {
    const { service, store } = await setup({ days: 10, model: hourOfDayModel([]) });
    const base = await service.run("hello");
    const at = (hour: number) => ORIGIN + hour * H;
    // Added after the run: still applied when the forecast is read.
    const tv = await service.addEvent("hello", {
      from: at(2),
      to: at(4),
      factor: 2,
      note: "TV spot",
    });
    await service.addEvent("hello", { from: at(3), to: at(5), factor: 1.5 });
    // Starts mid-hour: hour 10 starts before it, so only hour 11 is multiplied.
    await service.addEvent("hello", { from: at(10) + 30 * MINUTE, to: at(12), factor: 3 });
    await service.addEvent("other", { from: at(0), to: at(48), factor: 9 });
    const shown = (await service.latest("hello"))!;
    const factors = shown.hours.map((h) => h.factor);
    assert.deepEqual(factors.slice(0, 13), [1, 1, 2, 3, 1.5, 1, 1, 1, 1, 1, 1, 3, 1]);
    shown.hours.forEach((h, i) => {
      const b = base.hours[i]!;
      assert.ok(
        Math.abs(h.mean - b.mean * h.factor) < 0.1 && Math.abs(h.p90 - b.p90 * h.factor) < 0.1,
      );
    });
    assert.deepEqual(
      shown.events.map((e) => e.note),
      ["TV spot", "", ""],
    );
    assert.equal(tv.from, new Date(at(2)).toISOString());
    // Removing an event takes it out again.
    assert.deepEqual(await service.removeEvent("hello", tv.id), tv);
    assert.equal(await service.removeEvent("hello", tv.id), null);
    assert.equal((await service.latest("hello"))!.hours[2]!.factor, 1);
    assert.equal((await service.events("hello")).length, 2);
    await store.close();
  });

  test("invalid events are rejected, naming the field", async () => {
    const { service, store } = await setup({ days: 0 });
    const cases: [Parameters<ForecastService["addEvent"]>[1], RegExp][] = [
      [{ from: ORIGIN, to: ORIGIN, factor: 2 }, /to: must be after from/],
      [{ from: ORIGIN + H, to: ORIGIN, factor: 2 }, /to: must be after from/],
      [{ from: ORIGIN, to: ORIGIN + H, factor: 0 }, /factor: expected a number > 0/],
      [{ from: ORIGIN, to: ORIGIN + H, factor: -1 }, /factor/],
      [{ from: ORIGIN, to: ORIGIN + H, factor: Number.NaN }, /factor/],
      [{ from: ORIGIN, to: ORIGIN + H, factor: "2" as unknown as number }, /factor/],
      [{ from: Number.NaN, to: ORIGIN + H, factor: 2 }, /from: expected a time/],
      [{ from: ORIGIN, to: ORIGIN + H, factor: 2, note: "x".repeat(201) }, /note/],
    ];
    for (const [input, pattern] of cases) {
      await rejectsWith(service.addEvent("hello", input), "bad_request", pattern);
    }
    assert.deepEqual(await service.events("hello"), []);
    await store.close();
  });
});
