import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Forecast } from "../model.js";
import { toUtcHours, wallHistory, wallHorizon } from "./history.js";
import { createZone } from "./zone.js";

const H = 3_600_000;
const utc = (text: string) => Date.parse(text);
const hoursFrom = (start: string, totals: (number | null)[]) =>
  totals.flatMap((total, i) => (total === null ? [] : [{ hour: utc(start) + i * H, total }]));

describe("wallHistory", () => {
  test("in UTC: absent hours are missing, the series runs from the first data to the origin", () => {
    const hours = hoursFrom("2024-01-01T00:00:00Z", [null, null, 5, null, 7, 0]);
    const origin = utc("2024-01-01T07:00:00Z");
    const h = wallHistory(hours, origin, createZone("UTC"));
    assert.equal(h.series.start, utc("2024-01-01T02:00:00Z"));
    assert.deepEqual(h.series.values, [5, NaN, 7, 0, NaN]);
    assert.equal(h.from, utc("2024-01-01T02:00:00Z"));
    assert.equal(h.hoursWithData, 3);
    assert.equal(h.missingHours, 2);
  });

  test("hours at or after the origin are ignored; no data gives an empty series", () => {
    const zone = createZone("UTC");
    const origin = utc("2024-01-01T02:00:00Z");
    const h = wallHistory(hoursFrom("2024-01-01T00:00:00Z", [1, 2, 3, 4]), origin, zone);
    assert.deepEqual(h.series.values, [1, 2]);
    const none = wallHistory([], origin, zone);
    assert.deepEqual(none, {
      series: { start: origin, values: [] },
      from: null,
      hoursWithData: 0,
      missingHours: 0,
    });
  });

  test("local hours: a repeated hour holds the mean of its two, a skipped one is missing", () => {
    const berlin = createZone("Europe/Berlin");
    const autumn = wallHistory(
      hoursFrom("2024-10-26T20:00:00Z", [1, 2, 3, 4, 5, 6, 7, 8]),
      utc("2024-10-27T04:00:00Z"),
      berlin,
    );
    // 20Z is 22:00 CEST; 00Z and 01Z are both 02:00 local.
    assert.equal(autumn.series.start, utc("2024-10-26T22:00:00Z"));
    assert.deepEqual(autumn.series.values, [1, 2, 3, 4, 5.5, 7, 8]);
    const spring = wallHistory(
      hoursFrom("2024-03-30T23:00:00Z", [1, 2, 3]),
      utc("2024-03-31T02:00:00Z"),
      berlin,
    );
    // 23Z is 00:00 CET, 00Z 01:00 CET, 01Z 03:00 CEST: local 02:00 never happened.
    assert.deepEqual(spring.series.values, [1, 2, NaN, 3]);
    assert.equal(spring.missingHours, 0);
  });
});

describe("toUtcHours", () => {
  const berlin = createZone("Europe/Berlin");
  const forecastFrom = (origin: number, hours: number): Forecast => {
    const start = Math.floor(berlin.wall(origin) / H) * H;
    const mean = Array.from({ length: hours }, (_, i) => i);
    return { start, mean, p90: mean.map((m) => m * 10), model: "x" };
  };

  test("a skipped local hour is passed over, a repeated one feeds both UTC hours", () => {
    const spring = utc("2024-03-31T00:00:00Z");
    assert.equal(wallHorizon(spring, 3, berlin), 4);
    assert.deepEqual(toUtcHours(forecastFrom(spring, 4), spring, 3, berlin), {
      mean: [0, 2, 3],
      p90: [0, 20, 30],
    });
    const autumn = utc("2024-10-27T00:00:00Z");
    assert.equal(wallHorizon(autumn, 3, berlin), 2);
    assert.deepEqual(toUtcHours(forecastFrom(autumn, 2), autumn, 3, berlin).mean, [0, 0, 1]);
  });

  test("in a zone without DST the hours map one to one", () => {
    const kolkata = createZone("Asia/Kolkata");
    const origin = utc("2024-01-01T10:00:00Z");
    assert.equal(wallHorizon(origin, 48, kolkata), 48);
  });
});
