import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { runPointModelContract } from "../point-model.contract.js";
import { createMstlModel, decompose, fitLevel, levelForecast, movingAverage } from "./mstl.js";

const MONDAY = Date.parse("2024-01-01T00:00:00Z");

describe("movingAverage", () => {
  const cases: [number[], number, number[]][] = [
    [[1, 2, 3, 4, 5], 3, [1.5, 2, 3, 4, 4.5]],
    [[2, 2, 2], 5, [2, 2, 2]],
    [[1, 3], 1, [1, 3]],
  ];
  for (const [x, w, want] of cases) {
    test(`${JSON.stringify(x)} over ${w}`, () => assert.deepEqual(movingAverage(x, w), want));
  }
});

describe("decompose", () => {
  test("splits a sum of a daily and a weekly cycle and a level", () => {
    const n = 6 * 168;
    const daily = (t: number) => Math.sin((2 * Math.PI * t) / 24);
    const weekly = (t: number) => 0.5 * Math.cos((2 * Math.PI * t) / 168);
    const y = Array.from({ length: n }, (_, t) => 10 + daily(t) + weekly(t));
    const d = decompose(y, [24, 168], { cycles: [11, 15], trendHours: 281, iterations: 3 });
    for (let t = 168; t < n; t += 7) {
      assert.ok(Math.abs((d.seasonals[0]![t] as number) - daily(t)) < 0.01, `daily ${t}`);
      assert.ok(Math.abs((d.seasonals[1]![t] as number) - weekly(t)) < 0.01, `weekly ${t}`);
      assert.ok(Math.abs((d.adjusted[t] as number) - 10) < 0.01, `adjusted ${t}`);
    }
  });
});

describe("fitLevel (ETS)", () => {
  test("a flat noisy series: the level at its mean", () => {
    const y = Array.from({ length: 400 }, (_, t) => 5 + (t % 2 ? 0.1 : -0.1));
    const fit = fitLevel(y);
    assert.ok(Math.abs(levelForecast(fit, 24) - 5) < 0.15, String(levelForecast(fit, 24)));
  });
  test("a steady trend: damped trend, forecasts keep rising but less than linearly", () => {
    const y = Array.from({ length: 400 }, (_, t) => t * 0.1);
    const fit = fitLevel(y);
    assert.equal(fit.kind, "AAdN");
    const f1 = levelForecast(fit, 1);
    const f24 = levelForecast(fit, 24);
    assert.ok(f1 > 39.9 && f24 > f1 && f24 < 39.9 + 24 * 0.1, `${f1} ${f24}`);
  });
});

describe("MSTL + ETS", () => {
  test("forecasts the next day of a double cycle from 6 weeks, and of a daily one from 7 days", () => {
    const cycle = (i: number, weekend: number) =>
      300 *
      (1 + 0.5 * Math.sin((2 * Math.PI * (i % 24)) / 24)) *
      (Math.floor(i / 24) % 7 >= 5 ? weekend : 1);
    for (const [hours, weekend] of [
      [6 * 168, 0.7],
      [7 * 24, 1],
    ] as const) {
      const values = Array.from({ length: hours }, (_, i) => cycle(i, weekend));
      const f = createMstlModel().predict({ start: MONDAY, values }, 24);
      const actual = Array.from({ length: 24 }, (_, h) => cycle(hours + h, weekend));
      const w =
        f.reduce((s, x, i) => s + Math.abs(x - (actual[i] as number)), 0) /
        actual.reduce((s, x) => s + x, 0);
      assert.ok(w < 0.01, `${hours} h: wMAPE ${w}`);
    }
  });
});

runPointModelContract({ create: () => createMstlModel() });
