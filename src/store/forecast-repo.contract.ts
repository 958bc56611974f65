import assert from "node:assert/strict";
import { describe } from "node:test";
import type { ForecastRepo, NewForecast } from "./forecast-repo.js";
import { runCases } from "../lib/contract.js";

export interface ForecastRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: ForecastRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const H = 3_600_000;
const T0 = Date.UTC(2024, 2, 1);

function forecast(app: string, origin: number, mean: number[]): NewForecast {
  return {
    app,
    origin,
    createdAt: origin + 600_000,
    trigger: "manual",
    requestedModel: "auto",
    model: "profile",
    zone: "Europe/Berlin",
    historyFrom: origin - 14 * 24 * H,
    historyHours: 330,
    missingHours: 6,
    mean,
    p90: mean.map((m) => m * 1.25),
  };
}

const event = (app: string, fromHour: number, toHour: number, factor = 2, note = "") => ({
  app,
  from: T0 + fromHour * H,
  to: T0 + toHour * H,
  factor,
  note,
  createdAt: T0,
});

/** The behaviour every ForecastRepo implementation must have. */
export function runForecastRepoContract(options: ForecastRepoContractOptions): void {
  const cases: Record<string, (repo: ForecastRepo) => Promise<void>> = {
    "a stored forecast reads back whole, and latest is the newest of its app": async (repo) => {
      const first = await repo.insert(forecast("web", T0, [1.5, 2.25, 3]));
      const second = await repo.insert(forecast("web", T0 + H, [10, 20]));
      await repo.insert(forecast("api", T0 + 2 * H, [7]));
      assert.ok(second.id !== first.id);
      assert.deepEqual(await repo.latest("web"), {
        ...forecast("web", T0 + H, [10, 20]),
        id: second.id,
      });
      assert.equal((await repo.latest("api"))?.mean[0], 7);
      assert.equal(await repo.latest("none"), null);
      assert.deepEqual(await repo.apps(), ["api", "web"]);
    },
    "deleteApp removes an app's forecasts, events and daily runs, and only its (app rm left them)":
      async (repo) => {
        await repo.insert(forecast("web", T0, [1, 2]));
        await repo.insert(forecast("api", T0, [3]));
        await repo.addEvent(event("web", 0, 2));
        await repo.claimDay("web", "2024-03-01", T0);
        assert.equal(await repo.deleteApp("web"), true);
        assert.equal(await repo.deleteApp("web"), false, "nothing left the second time");
        assert.equal(await repo.latest("web"), null);
        assert.deepEqual(await repo.events("web"), []);
        assert.deepEqual(await repo.dailyRuns("web"), []);
        assert.deepEqual(await repo.apps(), ["api"]);
        assert.equal((await repo.latest("api"))?.mean[0], 3);
        assert.equal(await repo.claimDay("web", "2024-03-01", T0), true, "claimable again");
      },
    "the replayed backtest score reads back; a forecast without one has none": async (repo) => {
      const scored = {
        ...forecast("web", T0, [1, 2]),
        backtest: { wmape: 0.153, days: 21, hours: 504 },
      };
      const stored = await repo.insert(scored);
      assert.deepEqual(await repo.latest("web"), { ...scored, id: stored.id });
      const unscored = {
        ...forecast("web", T0 + H, [1]),
        backtest: { wmape: null, days: 0, hours: 0 },
      };
      await repo.insert(unscored);
      assert.deepEqual((await repo.latest("web"))?.backtest, { wmape: null, days: 0, hours: 0 });
      await repo.insert(forecast("api", T0, [1]));
      assert.equal((await repo.latest("api"))?.backtest, undefined);
    },
    "latestBefore is the newest forecast created by then, of that app only": async (repo) => {
      const first = await repo.insert(forecast("web", T0, [1]));
      const second = await repo.insert(forecast("web", T0 + 24 * H, [2]));
      await repo.insert(forecast("api", T0 + 12 * H, [3]));
      assert.equal(await repo.latestBefore("web", T0), null, "created 10 min after its origin");
      assert.equal((await repo.latestBefore("web", first.createdAt))?.id, first.id);
      assert.equal((await repo.latestBefore("web", T0 + 20 * H))?.id, first.id);
      assert.equal((await repo.latestBefore("web", T0 + 48 * H))?.id, second.id);
      assert.equal(await repo.latestBefore("none", T0 + 48 * H), null);
    },
    "events are per app, ordered by start, and a range selects the overlapping ones": async (
      repo,
    ) => {
      const late = await repo.addEvent(event("web", 10, 12, 1.8, "TV spot"));
      const early = await repo.addEvent(event("web", 0, 2));
      await repo.addEvent(event("api", 0, 100));
      assert.deepEqual(await repo.events("web"), [early, late]);
      assert.equal(late.note, "TV spot");
      // [from, to) on both sides: an event ending at the range start does not overlap it.
      const ids = async (from: number, to: number) =>
        (await repo.events("web", { from: T0 + from * H, to: T0 + to * H })).map((e) => e.id);
      assert.deepEqual(await ids(2, 10), []);
      assert.deepEqual(await ids(1, 11), [early.id, late.id]);
      assert.deepEqual(await ids(11, 48), [late.id]);
    },
    "removing an event returns it once, and only for its app": async (repo) => {
      const e = await repo.addEvent(event("web", 0, 1));
      assert.equal(await repo.removeEvent("api", e.id), null);
      assert.deepEqual(await repo.removeEvent("web", e.id), e);
      assert.equal(await repo.removeEvent("web", e.id), null);
      assert.deepEqual(await repo.events("web"), []);
    },
    "a day is claimed once per app, and its outcome is kept": async (repo) => {
      assert.equal(await repo.claimDay("web", "2024-03-01", T0), true);
      assert.equal(await repo.claimDay("web", "2024-03-01", T0 + H), false);
      assert.equal(await repo.claimDay("api", "2024-03-01", T0), true);
      assert.equal(await repo.claimDay("web", "2024-03-02", T0 + 24 * H), true);
      await repo.finishDay("web", "2024-03-01", "skipped", { message: "too little history" });
      await repo.finishDay("web", "2024-03-02", "stored", { forecastId: 4 });
      assert.deepEqual(await repo.dailyRuns("web"), [
        {
          app: "web",
          day: "2024-03-02",
          claimedAt: T0 + 24 * H,
          outcome: "stored",
          forecastId: 4,
          message: null,
        },
        {
          app: "web",
          day: "2024-03-01",
          claimedAt: T0,
          outcome: "skipped",
          forecastId: null,
          message: "too little history",
        },
      ]);
    },
    "concurrent claims of one day: exactly one wins": async (repo) => {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => repo.claimDay("web", "2024-03-01", T0)),
      );
      assert.equal(results.filter(Boolean).length, 1);
    },
  };

  describe("ForecastRepo contract", () => {
    runCases(
      cases,
      async () => {
        const { repo, close } = await options.create();
        return { subject: repo, close: close };
      },
      options.skip,
    );
  });
}
