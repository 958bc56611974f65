import { test } from "node:test";
import assert from "node:assert/strict";
import { createSeasonalNaive } from "./seasonal-naive.js";
import { runPointModelContract } from "../point-model.contract.js";

const start = Date.parse("2024-01-01T00:00:00Z");

test("snaive-week repeats last week's same hour, snaive-day yesterday's", () => {
  const values = Array.from({ length: 336 }, (_, i) => i);
  const week = createSeasonalNaive({ period: 168 }).predict({ start, values }, 200);
  assert.equal(week[0], 168);
  assert.equal(week[167], 335);
  assert.equal(week[168], 168, "beyond one season it repeats the last season again");
  const day = createSeasonalNaive({ period: 24 }).predict({ start, values }, 30);
  assert.deepEqual(day.slice(0, 2), [312, 313]);
  assert.equal(day[24], 312);
});

test("with less than a season, snaive-week falls back to the last day", () => {
  const values = Array.from({ length: 30 }, (_, i) => i);
  const f = createSeasonalNaive({ period: 168 }).predict({ start, values }, 3);
  assert.deepEqual(f, [6, 7, 8]);
  assert.equal(createSeasonalNaive({ period: 168 }).name, "snaive-week");
  assert.equal(createSeasonalNaive({ period: 24 }).name, "snaive-day");
});

runPointModelContract({ create: () => createSeasonalNaive({ period: 168 }) });
runPointModelContract({
  create: () => createSeasonalNaive({ period: 24 }),
  skip: {
    accuracy: "the next day is a Monday and yesterday a Sunday: a daily season cannot see the week",
  },
});
