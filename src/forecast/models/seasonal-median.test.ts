import { test } from "node:test";
import assert from "node:assert/strict";
import { createSeasonalMedian } from "./seasonal-median.js";
import { runPointModelContract } from "../point-model.contract.js";

const start = Date.parse("2024-01-01T00:00:00Z");
// Week 1 reads 10 every hour, week 2 30, week 3 20.
const threeWeeks = () =>
  Array.from({ length: 504 }, (_, i) => [10, 30, 20][Math.floor(i / 168)] as number);

test("median of the same hour over three weeks when the last day is on level", () => {
  // Last 24 h (20 each) vs their own seasonal median (median of 30 and 10 = 20): ratio 1.
  const f = createSeasonalMedian().predict({ start, values: threeWeeks() }, 48);
  assert.deepEqual(f, new Array(48).fill(20));
});

test("scaled by the last day's level against its own seasonal median", () => {
  const values = threeWeeks();
  for (let i = 480; i < 504; i++) values[i] = 40; // last day at 40 vs expected 20: x2
  const f = createSeasonalMedian().predict({ start, values }, 24);
  // Next hours: median(20, 30, 10) = 20, times 2.
  assert.deepEqual(f, new Array(24).fill(40));
});

test("fewer weeks or a shorter level window change the rule as documented", () => {
  const values = threeWeeks();
  for (let i = 492; i < 504; i++) values[i] = 40;
  // weeks 1: last week only (20); level over the last 12 h: 40 / median(30) ... = 40/30.
  const f = createSeasonalMedian({ weeks: 1, levelHours: 12 }).predict({ start, values }, 1);
  assert.ok(Math.abs((f[0] as number) - (20 * 40) / 30) < 1e-9);
});

runPointModelContract({ create: () => createSeasonalMedian() });
