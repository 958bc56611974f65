import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Hono } from "hono";
import { DEFAULT_FORECAST_CONFIG } from "../../forecast/service/forecast-config.js";
import { createForecastService } from "../../forecast/service/forecast-service.js";
import { createSqliteForecastRepo } from "../../store/sqlite/forecast-repo.js";
import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { createSqliteTrafficRepo } from "../../store/sqlite/traffic-repo.js";
import type { Store } from "../../store/store.js";
import type { EventsView, EventView, ForecastView } from "../../wire/forecast.js";
import { forecastRoutes } from "./forecasts.js";

const H = 3_600_000;
const NOW = Date.parse("2024-03-01T12:20:00Z");
const ORIGIN = Date.parse("2024-03-01T12:00:00Z");

describe("forecast routes", () => {
  let store: Store;
  let app: Hono;

  beforeEach(async () => {
    const sqlite = createSqliteStore({ path: ":memory:" });
    store = sqlite;
    const traffic = createSqliteTrafficRepo(sqlite.db);
    // Two days of one busy minute per hour: total = 100 + the hour of day.
    const minutes = Array.from({ length: 48 }, (_, i) => {
      const minute = ORIGIN - (48 - i) * H;
      const total = 100 + new Date(minute).getUTCHours();
      return { minute, total, s2xx: total, s3xx: 0, s4xx: 0, s5xx: 0 };
    });
    await traffic.add("hello", minutes);
    const forecasts = createForecastService({
      traffic,
      repo: createSqliteForecastRepo(sqlite.db),
      config: { ...DEFAULT_FORECAST_CONFIG, model: "snaive-day", minHistoryHours: 24 },
      clock: { now: () => NOW, sleep: async () => {} },
    });
    app = forecastRoutes({ forecasts });
  });
  afterEach(() => store.close());

  const send = (method: string, path: string, body?: unknown) =>
    app.request(path, {
      method,
      ...(body === undefined
        ? {}
        : {
            headers: { "content-type": "application/json" },
            body: typeof body === "string" ? body : JSON.stringify(body),
          }),
    });

  async function expectError(res: Response, status: number, code: string): Promise<string> {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code);
    assert.match(body.error.message, /^\[forecast\] /);
    return body.error.message;
  }

  test("POST forecasts runs and stores one; GET latest reads it back", async () => {
    await expectError(await send("GET", "/apps/hello/forecasts/latest"), 404, "not_found");
    const res = await send("POST", "/apps/hello/forecasts");
    assert.equal(res.status, 201);
    const run = (await res.json()) as ForecastView;
    assert.equal(run.origin, "2024-03-01T12:00:00.000Z");
    assert.equal(run.model, "snaive-day");
    assert.equal(run.trigger, "manual");
    assert.equal(run.hours.length, 48);
    // snaive-day repeats yesterday: hour h of day carries 100 + h.
    for (const h of run.hours) assert.equal(h.mean, 100 + new Date(h.time).getUTCHours());
    const latest = (await (
      await send("GET", "/apps/hello/forecasts/latest")
    ).json()) as ForecastView;
    assert.deepEqual(latest, run);
  });

  test("POST forecasts without enough history is a conflict naming what there is", async () => {
    const message = await expectError(
      await send("POST", "/apps/newapp/forecasts"),
      409,
      "conflict",
    );
    assert.match(message, /newapp: 0 hours of traffic history/);
    await expectError(await send("POST", "/apps/Bad!/forecasts"), 400, "bad_request");
  });

  test("events: add with any zone offset, list in UTC, applied to the latest, removed once", async () => {
    await send("POST", "/apps/hello/forecasts");
    const res = await send("POST", "/apps/hello/events", {
      from: "2024-03-01T15:00:00+01:00",
      to: "2024-03-01T16:00Z",
      factor: 1.8,
      note: "TV spot",
    });
    assert.equal(res.status, 201);
    const event = (await res.json()) as EventView;
    assert.deepEqual(
      [event.from, event.to, event.factor, event.note],
      ["2024-03-01T14:00:00.000Z", "2024-03-01T16:00:00.000Z", 1.8, "TV spot"],
    );
    const list = (await (await send("GET", "/apps/hello/events")).json()) as EventsView;
    assert.deepEqual(list, { app: "hello", events: [event] });
    const latest = (await (
      await send("GET", "/apps/hello/forecasts/latest")
    ).json()) as ForecastView;
    assert.deepEqual(
      latest.hours.slice(0, 5).map((h) => h.factor),
      [1, 1, 1.8, 1.8, 1],
    );
    assert.equal(latest.hours[2]!.mean, Math.round((100 + 14) * 1.8 * 10) / 10);
    assert.deepEqual(latest.events, [event]);

    const removed = await send("DELETE", `/apps/hello/events/${event.id}`);
    assert.equal(removed.status, 200);
    assert.deepEqual(await removed.json(), event);
    await expectError(await send("DELETE", `/apps/hello/events/${event.id}`), 404, "not_found");
    await expectError(await send("DELETE", "/apps/hello/events/abc"), 400, "bad_request");
    const after = (await (
      await send("GET", "/apps/hello/forecasts/latest")
    ).json()) as ForecastView;
    assert.equal(after.hours[2]!.factor, 1);
  });

  test("bad events are rejected with the field named and change nothing", async () => {
    const ok = { from: "2024-03-01T14:00Z", to: "2024-03-01T16:00Z", factor: 2 };
    const cases: [unknown, RegExp][] = [
      ["not json", /the body is not JSON/],
      [{ ...ok, from: "2024-03-01 14:00" }, /from: expected an ISO 8601 time with a zone/],
      [{ ...ok, from: "2024-03-01T14:00" }, /from: expected an ISO 8601 time with a zone/],
      [{ ...ok, to: "2024-02-30T16:00Z" }, /to: expected an ISO 8601 time/],
      [{ ...ok, to: ok.from }, /to: must be after from/],
      [{ ...ok, factor: 0 }, /factor: expected a number > 0/],
      [{ ...ok, factor: "1.8" }, /factor/],
      [{ ...ok, note: 5 }, /note/],
    ];
    for (const [body, pattern] of cases) {
      const message = await expectError(
        await send("POST", "/apps/hello/events", body),
        400,
        "bad_request",
      );
      assert.match(message, pattern);
    }
    const list = (await (await send("GET", "/apps/hello/events")).json()) as EventsView;
    assert.deepEqual(list.events, []);
  });
});
