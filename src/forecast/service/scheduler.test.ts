import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StrataError } from "../../lib/errors.js";
import { createSqliteForecastRepo } from "../../store/sqlite/forecast-repo.js";
import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import type { ForecastRepo } from "../../store/forecast-repo.js";
import {
  appsToForecast,
  createForecastScheduler,
  type ForecastSchedulerOptions,
} from "./scheduler.js";
import { createManualClock, type ManualClock } from "./test-support.js";

const utc = (text: string) => Date.parse(text);
const iso = (ms: number) => new Date(ms).toISOString();

interface Setup {
  clock: ManualClock;
  repo: ForecastRepo;
  runs: string[];
  audit: string[];
  scheduler: (
    overrides?: Partial<ForecastSchedulerOptions>,
  ) => ReturnType<typeof createForecastScheduler>;
  close: () => Promise<void>;
}

function setup(start: string, apps = ["web"]): Setup {
  const store = createSqliteStore({ path: ":memory:" });
  const repo = createSqliteForecastRepo(store.db);
  const clock = createManualClock(utc(start));
  const runs: string[] = [];
  const audit: string[] = [];
  let id = 0;
  const started: ReturnType<typeof createForecastScheduler>[] = [];
  return {
    clock,
    repo,
    runs,
    audit,
    scheduler(overrides = {}) {
      const s = createForecastScheduler({
        clock,
        zone: "Europe/Berlin",
        atMinute: 10,
        apps: async () => apps,
        run: async (app) => {
          runs.push(`${app} ${iso(clock.now())}`);
          return { id: ++id };
        },
        repo,
        audit: async (action, subject, detail) =>
          void audit.push(`${action} ${subject} ${String(detail?.day)} ${String(detail?.outcome)}`),
        ...overrides,
      });
      started.push(s);
      return s;
    },
    async close() {
      for (const s of started) await s.stop();
      await store.close();
    },
  };
}

describe("createForecastScheduler", () => {
  test("runs once a day at the local time of a non-UTC zone, across a DST change", async () => {
    // Midnight in Berlin (CET); the summer time starts on 2024-03-31.
    const t = setup("2024-03-28T23:00:00Z");
    t.scheduler().start();
    await t.clock.advanceTo(utc("2024-03-28T23:09:59Z"));
    assert.deepEqual(t.runs, [], "nothing before 00:10 local");
    await t.clock.advanceTo(utc("2024-04-01T12:00:00Z"));
    assert.deepEqual(t.runs, [
      "web 2024-03-28T23:10:00.000Z", // 00:10 CET on the 29th
      "web 2024-03-29T23:10:00.000Z",
      "web 2024-03-30T23:10:00.000Z", // the 31st, before the change at 02:00
      "web 2024-03-31T22:10:00.000Z", // 00:10 CEST on April 1
    ]);
    assert.deepEqual(
      (await t.repo.dailyRuns("web")).map((r) => `${r.day} ${r.outcome}`),
      ["2024-04-01 stored", "2024-03-31 stored", "2024-03-30 stored", "2024-03-29 stored"],
    );
    await t.close();
  });

  test("catches up at start when the run time has passed, and never runs a day twice", async () => {
    const t = setup("2024-03-29T09:00:00Z"); // 10:00 in Berlin: today's 00:10 was missed
    const first = t.scheduler();
    first.start();
    await t.clock.advanceTo(utc("2024-03-29T09:30:00Z"));
    assert.deepEqual(t.runs, ["web 2024-03-29T09:00:00.000Z"]);
    // A restart the same day, a manual check and a second replica all find the day claimed.
    await first.stop();
    const second = t.scheduler();
    second.start();
    const other = t.scheduler();
    assert.deepEqual(await other.tick(), { day: "2024-03-29", runs: [] });
    await t.clock.advanceTo(utc("2024-03-29T23:00:00Z"));
    assert.equal(t.runs.length, 1);
    await t.clock.advanceTo(utc("2024-03-30T00:00:00Z"));
    assert.deepEqual(t.runs.slice(1), ["web 2024-03-29T23:10:00.000Z"]);
    await t.close();
  });

  test("a day that passed while the control plane was down is not made up the next morning", async () => {
    // Up again at 00:05 on the 30th: the 29th is over, the 30th is not due yet.
    const t = setup("2024-03-29T23:05:00Z");
    t.scheduler().start();
    await t.clock.advanceTo(utc("2024-03-29T23:09:00Z"));
    assert.deepEqual(t.runs, []);
    await t.clock.advanceTo(utc("2024-03-29T23:30:00Z"));
    assert.deepEqual(t.runs, ["web 2024-03-29T23:10:00.000Z"]);
    await t.close();
  });

  test("days are local days: 23:30 in New York is the next day in UTC", async () => {
    const t = setup("2024-03-29T00:00:00Z"); // 20:00 EDT on the 28th
    const s = t.scheduler({ zone: "America/New_York", atMinute: 23 * 60 + 30 });
    s.start();
    await t.clock.advanceTo(utc("2024-03-29T04:00:00Z"));
    assert.deepEqual(t.runs, ["web 2024-03-29T03:30:00.000Z"]);
    assert.equal((await t.repo.dailyRuns("web"))[0]?.day, "2024-03-28");
    await t.close();
  });

  test("too little history is skipped, an error is failed, and the other apps still run", async () => {
    const t = setup("2024-03-29T09:00:00Z", ["new", "broken", "web"]);
    const s = t.scheduler({
      run: async (app) => {
        if (app === "new") throw new StrataError("conflict", "[forecast] new: 2 days of history");
        if (app === "broken") throw new Error("disk full");
        return { id: 7 };
      },
    });
    const tick = await s.tick();
    assert.deepEqual(tick, {
      day: "2024-03-29",
      runs: [
        { app: "new", outcome: "skipped", message: "[forecast] new: 2 days of history" },
        { app: "broken", outcome: "failed", message: "disk full" },
        { app: "web", outcome: "stored" },
      ],
    });
    assert.deepEqual((await t.repo.dailyRuns("web"))[0]?.forecastId, 7);
    assert.equal((await t.repo.dailyRuns("broken"))[0]?.message, "disk full");
    assert.deepEqual(t.audit, [
      "forecast.daily new 2024-03-29 skipped",
      "forecast.daily broken 2024-03-29 failed",
      "forecast.daily web 2024-03-29 stored",
    ]);
    await t.close();
  });

  test("stop ends the loop: no sleeper left, nothing runs afterwards", async () => {
    const t = setup("2024-03-28T23:00:00Z");
    const s = t.scheduler();
    s.start();
    await t.clock.advanceTo(utc("2024-03-28T23:05:00Z"));
    assert.equal(t.clock.pending(), 1);
    await s.stop();
    assert.equal(t.clock.pending(), 0);
    await t.clock.advanceTo(utc("2024-03-30T00:00:00Z"));
    assert.deepEqual(t.runs, []);
    await t.close();
  });
});

test("appsToForecast: groups' apps and apps forecast before, once each", async () => {
  const apps = await appsToForecast(
    { list: async () => [{ app: "web" }, { app: null }, { app: "api" }] },
    { apps: async () => ["logs-only", "web"] },
  );
  assert.deepEqual(apps, ["api", "logs-only", "web"]);
});
