import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StrataError } from "../../lib/errors.js";
import { createZone } from "./zone.js";

const H = 3_600_000;
const utc = (text: string) => Date.parse(text);

describe("createZone", () => {
  const berlin = createZone("Europe/Berlin");

  test("offset, local day and minute of day follow the zone's rules, DST included", () => {
    const cases: [string, number, string, number][] = [
      ["2024-01-15T12:00:00Z", 1 * H, "2024-01-15", 13 * 60],
      ["2024-07-15T12:00:00Z", 2 * H, "2024-07-15", 14 * 60],
      ["2024-03-30T23:30:00Z", 1 * H, "2024-03-31", 30],
      ["2024-03-31T01:00:00Z", 2 * H, "2024-03-31", 3 * 60],
      ["2024-12-31T23:05:00Z", 1 * H, "2025-01-01", 5],
    ];
    for (const [time, offset, day, minute] of cases) {
      assert.equal(berlin.offset(utc(time)), offset, time);
      assert.equal(berlin.day(utc(time)), day, time);
      assert.equal(berlin.minuteOfDay(utc(time)), minute, time);
    }
  });

  test("next finds the local time on the same day when it is still ahead, else on the next", () => {
    // 00:10 Berlin on 2024-01-15 is 23:10Z the day before.
    assert.equal(berlin.next(utc("2024-01-14T23:00:00Z"), 10), utc("2024-01-14T23:10:00Z"));
    assert.equal(berlin.next(utc("2024-01-14T23:10:00Z"), 10), utc("2024-01-15T23:10:00Z"));
    // Across the spring change the offset moves from +01:00 to +02:00.
    assert.equal(berlin.next(utc("2024-03-30T23:30:00Z"), 10), utc("2024-03-31T22:10:00Z"));
  });

  test("a local time that DST skips runs at the change; a repeated one once", () => {
    // 2024-03-31 02:30 does not exist in Berlin; 03:00 CEST (01:00Z) is the first instant after.
    assert.equal(berlin.next(utc("2024-03-30T23:30:00Z"), 150), utc("2024-03-31T01:00:00Z"));
    // 2024-10-27 02:30 happens at 00:30Z and 01:30Z; next() after the first goes to the next day.
    const first = berlin.next(utc("2024-10-26T22:00:00Z"), 150);
    assert.ok(first === utc("2024-10-27T00:30:00Z") || first === utc("2024-10-27T01:30:00Z"));
    assert.equal(berlin.next(first, 150), utc("2024-10-28T01:30:00Z"));
  });

  test("zones with half-hour offsets", () => {
    const kolkata = createZone("Asia/Kolkata");
    assert.equal(kolkata.offset(utc("2024-01-01T00:00:00Z")), 5.5 * H);
    assert.equal(kolkata.wall(utc("2024-01-01T10:00:00Z")), utc("2024-01-01T15:30:00Z"));
    assert.equal(kolkata.next(utc("2024-01-01T00:00:00Z"), 10), utc("2024-01-01T18:40:00Z"));
  });

  test("unknown zones are rejected", () => {
    assert.throws(
      () => createZone("Mars/Olympus"),
      (err) => err instanceof StrataError && /Mars\/Olympus/.test(err.message),
    );
  });
});
