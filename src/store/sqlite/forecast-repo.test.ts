import assert from "node:assert/strict";
import { test } from "node:test";
import { runForecastRepoContract } from "../forecast-repo.contract.js";
import { createSqliteForecastRepo } from "./forecast-repo.js";
import { createSqliteStore } from "./sqlite-store.js";

runForecastRepoContract({
  create: async () => {
    const store = createSqliteStore({ path: ":memory:" });
    return { repo: createSqliteForecastRepo(store.db), close: () => store.close() };
  },
});

test("a forecast's hours are rows of their own, one per hour from the origin", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const repo = createSqliteForecastRepo(store.db);
  const origin = Date.UTC(2024, 2, 1, 5);
  const { id } = await repo.insert({
    app: "web",
    origin,
    createdAt: origin,
    trigger: "daily",
    requestedModel: "auto",
    model: "dshw",
    zone: "UTC",
    historyFrom: null,
    historyHours: 0,
    missingHours: 0,
    mean: [1, 2, 3],
    p90: [2, 3, 4],
  });
  const rows = store.db
    .prepare("SELECT hour_utc FROM forecast_hours WHERE forecast_id = ? ORDER BY hour_utc")
    .all(id) as { hour_utc: number }[];
  assert.deepEqual(
    rows.map((r) => r.hour_utc),
    [origin, origin + 3_600_000, origin + 7_200_000],
  );
  await store.close();
});
