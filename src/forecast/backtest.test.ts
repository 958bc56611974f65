import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backtestOrigins, runBacktest, scoreRows, type BacktestRow } from "./backtest.js";

const H = 3_600_000;

describe("backtestOrigins", () => {
  test("00:00 of every whole day inside the series with at least minHistory hours before it", () => {
    // Starts at 21:00 like the World Cup trace, ends at 21:00 30 days later (last day partial).
    const start = Date.parse("1998-04-30T21:00:00Z");
    const series = { start, values: new Array(3 + 24 * 30).fill(1) };
    const origins = backtestOrigins(series, 28 * 24);
    // Midnights at hours 3, 27, ...; the first with >= 672 hours before it is hour 675 (May 29),
    // the last whole day starts at hour 699 (May 30); May 31 00:00..21:00 is partial.
    assert.deepEqual(origins, [675, 699]);
    assert.deepEqual(backtestOrigins(series, 24), [
      27,
      ...Array.from({ length: 28 }, (_, i) => 51 + 24 * i),
    ]);
  });
});

describe("scoreRows", () => {
  test("wMAPE, rMAE, under-forecast share and p90 coverage over hours with an actual", () => {
    const row = (actual: number, mean: number, p90: number, model = "m"): BacktestRow => ({
      origin: 0,
      hour: 0,
      actual,
      mean,
      p90,
      model,
    });
    const rows = [row(100, 90, 120), row(200, 220, 210), row(NaN, 5, 5), row(100, 100, 99)];
    const s = scoreRows("m", rows, [100, 180, 0, 110]);
    assert.equal(s.hours, 3);
    assert.ok(Math.abs(s.wmape - 30 / 400) < 1e-12); // (10 + 20 + 0) / 400
    assert.ok(Math.abs(s.rmae - 30 / 30) < 1e-12); // reference errors 0 + 20 + 10
    assert.ok(Math.abs(s.underShare - 1 / 3) < 1e-12);
    assert.ok(Math.abs(s.p90Coverage - 2 / 3) < 1e-12);
    assert.deepEqual(s.picks, { m: 1 });
  });
});

describe("runBacktest", () => {
  // Five weeks + 3 days of a weekly pattern with a step up in the last week, and a missing hour.
  const start = Date.parse("2024-01-01T00:00:00Z");
  const values = Array.from(
    { length: 38 * 24 },
    (_, i) => (10 + (i % 168)) * (i >= 34 * 24 ? 2 : 1),
  );
  values[30 * 24 + 5] = NaN;
  const series = { start, values };

  test("scores every model on the same hours; snaive-week has rMAE 1", () => {
    const r = runBacktest(series, { models: ["snaive-week", "profile"] });
    assert.equal(r.origins.length, 10);
    assert.equal(r.origins[0], start + 28 * 24 * H);
    const [naive, profile] = r.scores;
    assert.equal(naive?.hours, 10 * 24 - 1);
    assert.equal(profile?.hours, naive?.hours);
    assert.equal(naive?.rmae, 1);
    // snaive-week is exact until the step, then half the actual for the 4 stepped days.
    let err = 0;
    let sum = 0;
    for (let i = 28 * 24; i < 38 * 24; i++) {
      if (Number.isNaN(values[i] as number)) continue;
      err += i >= 34 * 24 ? (values[i] as number) / 2 : 0;
      sum += values[i] as number;
    }
    assert.ok(Math.abs((naive?.wmape as number) - err / sum) < 1e-12);
    const rows = r.rows["snaive-week"] ?? [];
    assert.equal(rows.length, 240);
    assert.ok(Number.isNaN(rows[2 * 24 + 5]?.actual as number));
    assert.equal(rows[0]?.hour, start + 28 * 24 * H);
  });

  test("a forecast never depends on hours at or after its origin", () => {
    const altered = [...values];
    for (let i = 33 * 24; i < altered.length; i++) altered[i] = 999;
    const a = runBacktest(series, { models: ["auto"] }).rows.auto ?? [];
    const b = runBacktest({ start, values: altered }, { models: ["auto"] }).rows.auto ?? [];
    // Origins up to day 33 saw identical histories.
    for (let i = 0; i < 5 * 24 + 24; i++) {
      assert.equal(a[i]?.mean, b[i]?.mean, `row ${i}`);
      assert.equal(a[i]?.p90, b[i]?.p90, `row ${i}`);
    }
    assert.ok(
      a.slice(6 * 24).some((row, i) => row.mean !== b[6 * 24 + i]?.mean),
      "later origins saw the change",
    );
  });
});

describe("runBacktest", () => {
  test("auto and each model score the same alone and side by side (regression: auto's clipped fits and the plain models shared memo keys)", () => {
    const start = Date.parse("2024-01-01T00:00:00Z");
    const values = Array.from({ length: 12 * 24 }, (_, i) => {
      const base = 100 + 50 * Math.sin((2 * Math.PI * i) / 24) + ((i * 7) % 11);
      return i % 97 === 13 ? 20 * base : base; // bursts that clipping pulls back
    });
    const series = { start, values };
    const alone = runBacktest(series, { models: ["auto"], minHistory: 9 * 24 });
    const beside = runBacktest(series, {
      models: ["auto", "snaive-week", "snaive-day", "mstl", "dhr", "profile"],
      minHistory: 9 * 24,
    });
    assert.deepEqual(
      beside.rows["auto"]?.map((r) => r.mean),
      alone.rows["auto"]?.map((r) => r.mean),
    );
    for (const name of ["snaive-day", "mstl"]) {
      const single = runBacktest(series, { models: [name], minHistory: 9 * 24 });
      assert.deepEqual(
        beside.rows[name]?.map((r) => r.mean),
        single.rows[name]?.map((r) => r.mean),
        name,
      );
    }
  });
});
