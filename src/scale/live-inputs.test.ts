import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { emptyServer } from "../fleet/fleet.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createForecasterScore, createLiveInputs } from "./live-inputs.js";

const M = 60_000;
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);

describe("live inputs (SQLite store)", () => {
  const store = createSqliteStore({ path: ":memory:" });
  after(() => store.close());
  const noForecast = { latest: async () => null };

  it("reads the busiest whole minute of the window, ignoring the minute under way", async () => {
    await store.groups.ensure("web");
    await store.groups.update("web", { app: "hello" });
    const minute = (at: number, total: number) => ({
      minute: at,
      total,
      s2xx: total,
      s3xx: 0,
      s4xx: 0,
      s5xx: 0,
    });
    await store.traffic.add("hello", [
      minute(T0, 600),
      minute(T0 + M, 1200),
      minute(T0 + 2 * M, 6000),
    ]);
    const inputs = createLiveInputs({ group: "web", store, forecasts: noForecast });
    assert.equal(await inputs.observedRate(T0 + 2 * M + 30_000, 2 * M), 20);
    assert.equal(await inputs.observedRate(T0 + 3 * M, M), 100);
    assert.equal(await inputs.observedRate(T0 - H, 2 * M), null);
  });

  it("takes lags from the last launches, terminated servers included", async () => {
    for (let i = 1; i <= 3; i++) {
      await store.servers.insert({
        ...emptyServer(`web-${i}`, "web", `127.20.1.${i + 1}`, T0 + i * M, null),
        state: i === 1 ? "terminated" : "joined",
        in_service_at: i === 3 ? null : T0 + i * M + 40_000,
      });
    }
    const inputs = createLiveInputs({ group: "web", store, forecasts: noForecast });
    assert.deepEqual(await inputs.launchLags(), [40_000, 40_000]);
  });

  it("scores the app's forecaster on its own traffic once there are 8 days", async () => {
    const score = createForecasterScore({ group: "web", store, model: "snaive-day" });
    assert.equal(await score(T0), null);
    const days = 10;
    const minutes = [];
    for (let i = 0; i < days * 1440; i++) {
      const at = T0 + i * M;
      const total = 10 + (i % 1440 < 720 ? 5 : 0);
      minutes.push({ minute: at, total, s2xx: total, s3xx: 0, s4xx: 0, s5xx: 0 });
    }
    for (let i = 0; i < minutes.length; i += 5000)
      await store.traffic.add("hello", minutes.slice(i, i + 5000));
    const later = createForecasterScore({ group: "web", store, model: "snaive-day" });
    const s = await later(T0 + days * 24 * H);
    assert.ok(s, "a score");
    assert.equal(s.model, "snaive-day");
    assert.ok(s.days >= 2, `days ${s.days}`);
    assert.ok(s.wmape < 0.01, `wmape ${s.wmape}`);
  });
});
