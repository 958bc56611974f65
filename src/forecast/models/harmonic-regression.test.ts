import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runPointModelContract } from "../point-model.contract.js";
import {
  createHarmonicRegression,
  fitHarmonicRegression,
  harmonicRow,
} from "./harmonic-regression.js";

const MONDAY = Date.parse("2024-01-01T00:00:00Z");
const H = 3_600_000;
/** A daily cycle, weekends at `weekend` of a weekday, times `f(i)`. */
const series = (hours: number, f: (i: number) => number = () => 1, weekend = 0.6) =>
  Array.from({ length: hours }, (_, i) => {
    const day = Math.floor(i / 24) % 7;
    return (
      500 * (1 + 0.5 * Math.sin((2 * Math.PI * (i % 24)) / 24)) * (day >= 5 ? weekend : 1) * f(i)
    );
  });
const wmape = (f: number[], a: number[]) =>
  f.reduce((s, x, i) => s + Math.abs(x - (a[i] as number)), 0) / a.reduce((s, x) => s + x, 0);

describe("harmonicRow", () => {
  test("intercept, then daily and weekly (sin, cos) pairs", () => {
    const row = harmonicRow(MONDAY + 6 * H, 2, 1);
    assert.equal(row.length, 1 + 4 + 2);
    assert.equal(row[0], 1);
    assert.ok(Math.abs((row[1] as number) - 1) < 1e-12, "sin(2 pi 6/24) = 1");
    assert.ok(Math.abs(row[2] as number) < 1e-12, "cos(2 pi 6/24) = 0");
  });
});

describe("dynamic harmonic regression", () => {
  // A weekend step is a square wave: six weekly pairs draw it to within a few per cent.
  const cases: {
    name: string;
    hours: number;
    f?: (i: number) => number;
    weekend?: number;
    maxWmape: number;
  }[] = [
    { name: "8 weeks of a double cycle", hours: 8 * 168, maxWmape: 0.05 },
    {
      name: "7 days of a daily cycle (no weekly terms)",
      hours: 7 * 24,
      weekend: 1,
      maxWmape: 0.01,
    },
    {
      name: "a burst of 10x for 6 hours barely bends the shape (robust fit)",
      hours: 6 * 168,
      f: (i) => (i > 5 * 168 && i < 5 * 168 + 6 ? 10 : 1),
      maxWmape: 0.07,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const all = series(c.hours + 24, c.f, c.weekend);
      const f = createHarmonicRegression().predict(
        { start: MONDAY, values: all.slice(0, c.hours) },
        24,
      );
      const w = wmape(f, series(c.hours + 24, () => 1, c.weekend).slice(c.hours));
      assert.ok(w < c.maxWmape, `wMAPE ${w}`);
    });
  }
  test("weekly terms only from two weeks; AR errors follow a persistent level shift", () => {
    assert.equal(fitHarmonicRegression(MONDAY, series(13 * 24)).weeklyPairs, 0);
    assert.equal(fitHarmonicRegression(MONDAY, series(14 * 24)).weeklyPairs, 6);
    // The last two days run 30% high: the next hours should start above the regression mean.
    const values = series(6 * 168, (i) => (i >= 6 * 168 - 48 ? 1.3 : 1), 1);
    const fit = fitHarmonicRegression(MONDAY, values);
    assert.ok(fit.ar.length > 0, "an AR term is chosen");
    const f = createHarmonicRegression().predict({ start: MONDAY, values }, 1);
    const plain = series(6 * 168 + 1, () => 1, 1)[6 * 168] as number;
    assert.ok((f[0] as number) > plain * 1.1, `${f[0]} vs ${plain}`);
  });
});

runPointModelContract({ create: () => createHarmonicRegression() });
