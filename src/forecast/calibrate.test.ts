import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  conformalQuantile,
  memoPredict,
  recentErrors,
  replayedWmape,
  upperFactors,
  type ReplayedHour,
} from "./calibrate.js";
import { createForecastMemo, type PointModel } from "./model.js";
import type { HourlySeries } from "./series.js";

const MONDAY = Date.parse("2024-01-01T00:00:00Z");
const H = 3_600_000;

/** A model that forecasts `value` and records the span of every history it was given. */
function spy(value: number) {
  const seen: { start: number; end: number; hasNaN: boolean }[] = [];
  const model: PointModel = {
    name: `spy${value}`,
    description: "records its histories",
    predict(history: HourlySeries, horizon: number) {
      seen.push({
        start: history.start,
        end: history.start + history.values.length * H,
        hasNaN: history.values.some(Number.isNaN),
      });
      return new Array(horizon).fill(value);
    },
  };
  return { model, seen };
}

describe("recentErrors", () => {
  test("replays one origin a day, each seeing only hours before it, and pairs forecasts with actuals", () => {
    const values = Array.from({ length: 10 * 24 }, () => 12);
    values[9 * 24 + 5] = NaN; // a missing actual is skipped, and bridged in histories
    const { model, seen } = spy(10);
    const replays = recentErrors(
      model,
      { start: MONDAY, values },
      { days: 3, window: 48, horizon: 48 },
    );
    assert.deepEqual(
      seen.map((s) => [(s.start - MONDAY) / H, (s.end - MONDAY) / H]),
      [
        [168, 216],
        [144, 192],
        [120, 168],
      ],
    );
    assert.ok(seen.every((s) => !s.hasNaN));
    // Yesterday's replay is clipped at the origin to 24 hours; the missing hour 221 drops from
    // yesterday's and from the second day of the replay 2 days ago.
    assert.equal(replays.filter((r) => r.age === 1).length, 23);
    assert.equal(replays.filter((r) => r.age === 2).length, 47);
    assert.equal(replays.filter((r) => r.age === 3).length, 48);
    assert.equal(replays.filter((r) => r.leadDay === 1).length, 47);
    assert.ok(replays.every((r) => r.forecast === 10 && r.actual === 12));
    assert.equal(replays.find((r) => r.age === 1)?.hour, 0);
    assert.ok(Math.abs(replayedWmape(replays) - 2 / 12) < 1e-12);
  });

  test("stops at origins with less than minHistory before them", () => {
    const { model, seen } = spy(1);
    recentErrors(
      model,
      { start: MONDAY, values: new Array(200).fill(1) },
      { days: 5, window: 1000, horizon: 24 },
    );
    assert.equal(seen.length, 1); // only the origin at hour 176 has >= 168 hours before it
  });

  test("memoPredict fits a model once per span and horizon", () => {
    const { model, seen } = spy(3);
    const memo = createForecastMemo();
    const h = { start: MONDAY, values: [1, 2, 3] };
    memoPredict(model, h, 4, memo);
    memoPredict(model, { ...h }, 4, memo);
    memoPredict(model, h, 5, memo);
    assert.equal(seen.length, 2);
  });
});

describe("upper bounds", () => {
  test("conformalQuantile takes the ceil((n + 1) q)-th smallest", () => {
    const nine = [9, 1, 8, 2, 7, 3, 6, 4, 5];
    assert.equal(conformalQuantile(nine, 0.9), 9);
    assert.equal(
      conformalQuantile(
        [...Array(19).keys()].map((i) => i + 1),
        0.9,
      ),
      18,
    );
    assert.equal(
      conformalQuantile(
        [...Array(19).keys()].map((i) => i + 1),
        0.5,
      ),
      10,
    );
    assert.ok(Number.isNaN(conformalQuantile([], 0.9)));
  });

  test("upperFactors: per hour of day and lead day, pooled over neighbouring hours, never below 1", () => {
    const hours: ReplayedHour[] = [];
    for (let age = 1; age <= 9; age++) {
      for (let h = 0; h < 24; h++) {
        // At 12:00 the actual runs 1.1 ... 1.9 times the forecast; elsewhere exactly on it.
        hours.push({
          age,
          leadDay: 0,
          hour: h,
          forecast: 100,
          actual: h === 12 ? 100 + 10 * age : 100,
        });
        hours.push({ age, leadDay: 0, hour: h, forecast: 100, actual: 50 });
      }
    }
    const f = upperFactors(hours, 2, { band: 0 });
    assert.equal(f.length, 2);
    // 18 ratios at 12:00: 9 of 0.5 and 1.1..1.9; rank ceil(19 * 0.9) = 18 -> 1.9.
    assert.ok(Math.abs((f[0]?.[12] as number) - 1.9) < 1e-12);
    assert.equal(f[0]?.[3], 1, "never below 1");
    assert.deepEqual(f[1], f[0], "lead day 1 without errors reuses lead day 0");
    const banded = upperFactors(hours, 1, { band: 1 });
    assert.ok((banded[0]?.[11] as number) > 1, "12:00's errors widen 11:00 with band 1");
    assert.deepEqual(upperFactors([], 1, { fallback: 1.5 })[0]?.slice(0, 2), [1.5, 1.5]);
  });
});
