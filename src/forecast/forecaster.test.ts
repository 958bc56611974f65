import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ReplayedHour } from "./calibrate.js";
import { createAutoModel, createForecaster, selectionReplays, type Scored } from "./forecaster.js";
import type { PointModel } from "./model.js";
import {
  createForecastModel,
  createPointModel,
  MODEL_NAMES,
  POINT_MODEL_NAMES,
} from "./registry.js";
import { StrataError } from "../lib/errors.js";

const MONDAY = Date.parse("2024-01-01T00:00:00Z");
const H = 3_600_000;
const truth = (i: number) => 100 + 50 * Math.sin((2 * Math.PI * i) / 24) + (i % 7); // noise-free

/** Forecasts truth(t) * scale; records the last hour each history covered (in hours since MONDAY). */
function oracle(name: string, scale: number, ends: number[] = []): PointModel {
  return {
    name,
    description: name,
    predict(history, horizon) {
      const end = (history.start - MONDAY) / H + history.values.length;
      ends.push(end);
      return Array.from({ length: horizon }, (_, h) => truth(end + h) * scale);
    },
  };
}

describe("createAutoModel", () => {
  test("picks the candidate with the lowest replayed wMAPE and never sees the future", () => {
    const ends: number[] = [];
    const values = Array.from({ length: 40 * 24 }, (_, i) => truth(i));
    const auto = createAutoModel({
      candidates: [oracle("high", 1.3, ends), oracle("right", 1, ends), oracle("low", 0.8, ends)],
    });
    const f = auto.forecast({ start: MONDAY, values }, 48);
    assert.equal(f.model, "right");
    assert.equal(f.start, MONDAY + 40 * 24 * H);
    assert.ok(Math.max(...ends) <= 40 * 24, "no history reaches past the origin");
    assert.equal(
      ends.filter((e) => e === 40 * 24).length,
      1,
      "only the chosen model forecasts from the origin",
    );
    f.mean.forEach((m, h) => assert.ok(Math.abs(m - truth(40 * 24 + h)) < 1e-9));
    // Exact past forecasts: the bound sits on the mean.
    assert.deepEqual(f.p90, f.mean);
  });

  test("uses at most the window and replays inside it", () => {
    const ends: number[] = [];
    const starts: number[] = [];
    const model: PointModel = {
      name: "spy",
      description: "",
      predict(history, horizon) {
        starts.push((history.start - MONDAY) / H);
        ends.push((history.start - MONDAY) / H + history.values.length);
        return new Array(horizon).fill(1);
      },
    };
    createForecaster(model, { window: 20 * 24, calibrationDays: 5 }).forecast(
      { start: MONDAY, values: new Array(60 * 24).fill(1) },
      24,
    );
    assert.ok(Math.min(...starts) >= 40 * 24, String(starts));
    assert.equal(ends.length, 6);
  });

  test("near-tied candidates are averaged; a clear winner is not; replays give the score", () => {
    const values = Array.from({ length: 40 * 24 }, (_, i) => truth(i));
    const cases: { scales: number[]; margin?: number; model: string }[] = [
      // Errors of +2% and -2% cancel in the mean: it beats either alone.
      { scales: [1.02, 0.98, 1.5], model: "mean(a, b)" },
      // 0.99 is far better than 1.1 and 0.7, and their means are worse than it.
      { scales: [0.99, 1.1, 0.7], model: "a" },
      { scales: [1.02, 0.98, 1.5], margin: 0, model: "mean(a, b)" },
    ];
    for (const c of cases) {
      const [a, b, d] = c.scales as [number, number, number];
      const f = createAutoModel({
        candidates: [oracle("a", a), oracle("b", b), oracle("c", d)],
        ...(c.margin !== undefined ? { closeMargin: c.margin } : {}),
      }).forecast({ start: MONDAY, values }, 24);
      assert.equal(f.model, c.model, JSON.stringify(c));
      assert.equal(f.backtest?.days, 21);
      assert.equal(f.backtest?.candidates?.length, 3);
    }
  });

  test("a history too short to replay falls back to the mean of the fallback models", () => {
    const values = Array.from({ length: 5 * 24 }, (_, i) => truth(i));
    const f = createAutoModel({
      candidates: [oracle("a", 1), oracle("b", 1.2), oracle("c", 0.8)],
      fallback: ["b", "c"],
    }).forecast({ start: MONDAY, values }, 24);
    assert.equal(f.model, "mean(b, c)");
    f.mean.forEach((m, h) => assert.ok(Math.abs(m - truth(5 * 24 + h)) < 1e-9));
  });

  test("gaps: replayed days without actuals do not count; the registry's auto still forecasts", () => {
    // 30 days; the last two and a day in the middle are missing entirely.
    const values = Array.from({ length: 30 * 24 }, (_, i) =>
      i >= 28 * 24 || (i >= 20 * 24 && i < 21 * 24) ? NaN : truth(i),
    );
    const f = createForecastModel("auto").forecast({ start: MONDAY, values }, 48);
    assert.ok(f.mean.every((m) => Number.isFinite(m) && m > 0));
    assert.ok(f.p90.every((p, i) => p >= (f.mean[i] as number)));
    // 21 replayed origins; the two whose first day lies in the final gap have no actuals,
    // the one whose first day is the middle gap neither.
    assert.equal(f.backtest?.days, 18);
    f.mean.forEach((m, h) =>
      assert.ok(Math.abs(m - truth(30 * 24 + h)) / truth(30 * 24 + h) < 0.1, `hour ${h}`),
    );
  });

  test("rejects an empty candidate list", () => {
    assert.throws(() => createAutoModel({ candidates: [] }), StrataError);
  });
});

describe("selectionReplays", () => {
  const replays = (age: number, forecast: number): ReplayedHour[] =>
    Array.from({ length: 24 }, (_, hour) => ({ age, leadDay: 0, hour, forecast, actual: 10 }));
  const model = (name: string): PointModel => ({ name, description: name, predict: () => [] });
  // "a" is right on days 1 and 2, "b" on days 3 and 4.
  const scored: Scored[] = [
    {
      model: model("a"),
      replays: [1, 2, 3, 4].flatMap((k) => replays(k, k <= 2 ? 10 : 20)),
      wmape: 0,
    },
    {
      model: model("b"),
      replays: [1, 2, 3, 4].flatMap((k) => replays(k, k <= 2 ? 20 : 10)),
      wmape: 0,
    },
  ];
  const best = (list: Scored[]) => [list.reduce((x, y) => (y.wmape < x.wmape ? y : x))];

  test("each replayed day is forecast by the choice made from older days only", () => {
    const seen: number[][] = [];
    const out = selectionReplays(scored, [1, 2, 3, 4], (list, days) => {
      seen.push([...new Set(list[0]?.replays.map((r) => r.age))]);
      assert.equal(days, seen.at(-1)?.length);
      return best(list);
    });
    assert.deepEqual(seen, [[2, 3, 4], [3, 4], [4], []]);
    // Day 1 and 2 follow "b" (best on the older days 3 and 4) and miss; day 3 follows "b" too.
    const byAge = (k: number) => out.find((r) => r.age === k)?.forecast;
    assert.deepEqual([1, 2, 3].map(byAge), [20, 20, 10]);
  });

  test("jackknife: each day is forecast by the choice made from every other day", () => {
    const seen: number[][] = [];
    selectionReplays(
      scored,
      [1, 2, 3, 4],
      (list) => {
        seen.push([...new Set(list[0]?.replays.map((r) => r.age))].sort());
        return best(list);
      },
      true,
    );
    assert.deepEqual(seen, [
      [2, 3, 4],
      [1, 3, 4],
      [1, 2, 4],
      [1, 2, 3],
    ]);
  });
});

describe("createForecaster", () => {
  test("p90 learns from replayed errors: an always-low model gets a bound above the actuals", () => {
    const values = Array.from({ length: 40 * 24 }, (_, i) => truth(i));
    const f = createForecaster(oracle("low", 0.8)).forecast({ start: MONDAY, values }, 24);
    f.p90.forEach((p, h) => {
      const actual = truth(40 * 24 + h);
      assert.ok(p >= actual - 1e-9 && p <= actual * 1.0001, `hour ${h}: ${p} vs ${actual}`);
    });
    assert.equal(f.model, "low");
  });
});

describe("registry", () => {
  test("every name builds and forecasts finite, non-negative values with a bound above the mean", () => {
    const values = Array.from({ length: 35 * 24 }, (_, i) =>
      i % 200 === 7 ? NaN : truth(i) * (1 + 0.05 * Math.cos(i)),
    );
    for (const name of MODEL_NAMES) {
      const f = createForecastModel(name).forecast({ start: MONDAY, values }, 48);
      assert.equal(f.mean.length, 48, name);
      assert.ok(
        f.mean.every((x) => Number.isFinite(x) && x >= 0),
        name,
      );
      assert.ok(
        f.p90.every((p, i) => p >= (f.mean[i] as number)),
        name,
      );
    }
    assert.ok(POINT_MODEL_NAMES.includes("snaive-week"));
  });

  test("auto copes with short series, gaps and a burst (clipping and its own replays on)", () => {
    const cases = [
      { name: "30 hours", hours: 30, gap: [] as number[], days: 0 },
      { name: "3 days, a missing afternoon", hours: 72, gap: [40, 46], days: 0 },
      // Replays start after 4 days: origins 6, 5, 4 days before the end.
      { name: "7 days, a burst and a gap", hours: 168, gap: [100, 110], days: 3 },
      { name: "9 days, the last 5 hours missing", hours: 216, gap: [211, 216], days: 5 },
    ];
    for (const c of cases) {
      const values = Array.from({ length: c.hours }, (_, i) =>
        i >= (c.gap[0] ?? Infinity) && i < (c.gap[1] ?? 0)
          ? NaN
          : i === 60
            ? 50 * truth(i)
            : truth(i),
      );
      const f = createForecastModel("auto").forecast({ start: MONDAY, values }, 48);
      assert.ok(
        f.mean.every((m) => Number.isFinite(m) && m >= 0),
        c.name,
      );
      assert.ok(
        f.p90.every((p, i) => p >= (f.mean[i] as number)),
        c.name,
      );
      assert.equal(f.backtest?.days, c.days, c.name);
      // The burst 50x at hour 60 does not carry into the forecast.
      assert.ok(
        Math.max(...f.mean) < 3 * Math.max(...values.filter(Number.isFinite).slice(0, 24)),
        c.name,
      );
    }
  });

  test("unknown names are rejected with the list of known ones", () => {
    assert.throws(() => createPointModel("prophet"), /unknown model "prophet" \(known: auto, /);
  });
});
