import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createProfileModel } from "./profile.js";
import { runPointModelContract } from "../point-model.contract.js";

const MONDAY = Date.parse("2024-01-01T00:00:00Z");
const DAY = 86_400_000;

/** Weekdays total 2400 shaped 8 * (h + 1); weekend days total 1200 shaped 4 * (h + 1). */
function weeks(days: number): number[] {
  const v: number[] = [];
  for (let d = 0; d < days; d++)
    for (let h = 0; h < 24; h++) v.push((d % 7 >= 5 ? 4 : 8) * (h + 1));
  return v;
}
const close = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length &&
  a.every((x, i) => Math.abs(x - (b[i] as number)) < 1e-6 * Math.max(1, Math.abs(b[i] as number)));
const weekday = (scale = 1) => Array.from({ length: 24 }, (_, h) => scale * 8 * (h + 1));
const weekend = Array.from({ length: 24 }, (_, h) => 4 * (h + 1));

describe("profile", () => {
  test("reproduces a steady weekday/weekend pattern", () => {
    const f = createProfileModel().predict({ start: MONDAY, values: weeks(28) }, 48);
    assert.ok(close(f, [...weekday(), ...weekday()]), String(f.slice(0, 4)));
    // From a Saturday origin the weekend shape and level come next.
    const g = createProfileModel().predict({ start: MONDAY, values: weeks(26) }, 48);
    assert.ok(close(g, [...weekend, ...weekend]), String(g.slice(0, 4)));
  });

  test("a spike in a few hours of the last day does not move the level", () => {
    const values = weeks(28);
    values[27 * 24 + 14] = 10 * (values[27 * 24 + 14] as number); // Sunday 14:00
    values[27 * 24 + 15] = 5 * (values[27 * 24 + 15] as number);
    const f = createProfileModel().predict({ start: MONDAY, values }, 24);
    assert.ok(close(f, weekday()), String(f.slice(12, 16)));
  });

  test("follows a level shift of the last day (alpha 1) or half of it (alpha 0.5)", () => {
    const values = weeks(29); // ends after Monday, forecasts Tuesday
    for (let i = 28 * 24; i < 29 * 24; i++) values[i] = 1.5 * (values[i] as number);
    const sharp = createProfileModel().predict({ start: MONDAY, values }, 24);
    assert.ok(close(sharp, weekday(1.5)), String(sharp.slice(0, 3)));
    const smooth = createProfileModel({ alpha: 0.5 }).predict({ start: MONDAY, values }, 24);
    assert.ok(close(smooth, weekday(1.25)), String(smooth.slice(0, 3)));
  });

  test("uses calendar days: a history starting mid-day still lines up", () => {
    const values = weeks(28).slice(21);
    const f = createProfileModel().predict({ start: MONDAY + 21 * 3_600_000, values }, 24);
    assert.ok(close(f, weekday()));
  });

  test("with under two whole days it repeats the last day", () => {
    const values = Array.from({ length: 30 }, (_, i) => i);
    assert.deepEqual(createProfileModel().predict({ start: MONDAY + DAY, values }, 2), [6, 7]);
  });
});

runPointModelContract({ create: () => createProfileModel() });
