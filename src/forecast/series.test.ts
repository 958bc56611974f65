import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  bridgeMissing,
  dayOfWeek,
  firstMidnight,
  hourOfWeek,
  median,
  quantile,
  sliceSeries,
  tail,
  trimmedMean,
} from "./series.js";

const wall = (iso: string) => Date.parse(`${iso}Z`);

describe("calendar of wall-clock times", () => {
  const cases: [string, number, number][] = [
    ["1995-07-01T00:00:00", 5, 120], // Saturday
    ["1995-07-03T13:00:00", 0, 13], // Monday
    ["1998-05-29T23:00:00", 4, 4 * 24 + 23], // Friday
    ["1970-01-01T00:00:00", 3, 72], // Thursday
    ["1969-12-28T05:00:00", 6, 149], // Sunday, before the epoch
  ];
  for (const [iso, dow, how] of cases) {
    test(iso, () => {
      assert.equal(dayOfWeek(wall(iso)), dow);
      assert.equal(hourOfWeek(wall(iso)), how);
    });
  }

  test("firstMidnight, sliceSeries and tail", () => {
    const s = { start: wall("1998-04-30T21:00:00"), values: [1, 2, 3, 4, 5, 6] };
    assert.equal(firstMidnight(s), 3);
    assert.equal(firstMidnight({ start: wall("1998-05-01T00:00:00"), values: [] }), 0);
    assert.deepEqual(sliceSeries(s, 3, 5), { start: wall("1998-05-01T00:00:00"), values: [4, 5] });
    assert.deepEqual(tail(s, 2).values, [5, 6]);
    assert.deepEqual(tail(s, 10).values, s.values);
  });
});

describe("statistics", () => {
  test("median, quantile (type 7), trimmed mean ignore NaN", () => {
    assert.equal(median([3, 1, NaN, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.equal(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9), 9.1);
    assert.equal(trimmedMean([100, 1, 2, 3, 4, 5, 6, -50], 0.25), 3.5);
    assert.equal(trimmedMean([7], 0.25), 7);
  });
});

describe("bridgeMissing", () => {
  test("fills a missing hour from the median of the same hour of week", () => {
    // Three weeks where hour-of-week 5 reads 10, 30, 20: a gap there becomes 20 (not the mean, not 0).
    const values = Array.from({ length: 504 }, (_, i) =>
      i % 168 === 5 ? ([10, 30, 20][Math.floor(i / 168)] ?? 0) : 1,
    );
    values[168 + 5] = NaN;
    values[336 + 5] = 40;
    const start = wall("2024-01-01T00:00:00"); // a Monday
    const out = bridgeMissing({ start, values });
    assert.equal(out[168 + 5], 25); // median of 10 and 40
    assert.equal(out.filter(Number.isNaN).length, 0);
    assert.equal(out[0], 1);
  });

  test("falls back to the same hour of day, then to the overall median", () => {
    const start = wall("2024-01-01T00:00:00");
    const values = Array.from({ length: 48 }, (_, i) => (i % 24) + 1);
    values[30] = NaN; // Tuesday 06:00: no other Tuesday, but Monday 06:00 = 7
    assert.equal(bridgeMissing({ start, values })[30], 7);
    assert.deepEqual(bridgeMissing({ start, values: [NaN, NaN] }), [0, 0]);
  });
});
