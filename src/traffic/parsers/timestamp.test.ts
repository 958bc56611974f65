import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { minuteOfEpoch, parseClfTime, parseIsoTime } from "./timestamp.js";

const clf = (text: string) => parseClfTime(Buffer.from(text), 0);
const iso = (text: string) => parseIsoTime(Buffer.from(text), 0, text.length);
const utc = (text: string) => {
  const ms = Date.parse(text);
  return Math.floor(ms / 60_000) * 60_000;
};

describe("CLF times", () => {
  const cases: [string, string][] = [
    ["10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:00Z"],
    ["10/Oct/2000:20:55:59 +0000", "2000-10-10T20:55:00Z"],
    ["01/Jan/2024:08:30:00 +0900", "2023-12-31T23:30:00Z"],
    ["31/Dec/2023:23:59:59 -1000", "2024-01-01T09:59:00Z"],
    ["29/Feb/2024:12:00:00 +0530", "2024-02-29T06:30:00Z"],
    ["15/jul/1995:00:00:01 -0400", "1995-07-15T04:00:00Z"],
  ];
  for (const [text, expected] of cases) {
    test(`${text} is the UTC minute ${expected}`, () => assert.equal(clf(text), utc(expected)));
  }
  for (const bad of [
    "30/Feb/2024:12:00:00 +0000",
    "10/Foo/2000:13:55:36 -0700",
    "10/Oct/2000:24:00:00 -0700",
    "10/Oct/2000:13:60:00 -0700",
    "10/Oct/2000:13:55:36 0700",
    "10/Oct/2000:13:55:36 -07",
    "10/Oct/1969:13:55:36 -0700",
    "1O/Oct/2000:13:55:36 -0700",
  ]) {
    test(`rejects ${bad}`, () => assert.ok(Number.isNaN(clf(bad))));
  }
});

describe("ISO 8601 times", () => {
  const cases: [string, string][] = [
    ["2000-10-10T13:55:36-07:00", "2000-10-10T20:55:00Z"],
    ["2000-10-10T20:55:36Z", "2000-10-10T20:55:00Z"],
    ["2000-10-10T20:55:36.123456Z", "2000-10-10T20:55:00Z"],
    ["2000-10-11T05:55:36+0900", "2000-10-10T20:55:00Z"],
    ["2000-10-11T05:55+09", "2000-10-10T20:55:00Z"],
    ["2000-10-10 20:55:36", "2000-10-10T20:55:00Z"],
    ["2000-10-10T20:55", "2000-10-10T20:55:00Z"],
  ];
  for (const [text, expected] of cases) {
    test(`${text} is the UTC minute ${expected}`, () => assert.equal(iso(text), utc(expected)));
  }
  for (const bad of [
    "2000-13-10T20:55:36Z",
    "2000-10-10T20:55:36X",
    "2000-10-10",
    "2000-10-10T20:55:36+25:00",
    "20:55:36",
  ]) {
    test(`rejects ${bad}`, () => assert.ok(Number.isNaN(iso(bad))));
  }
  test("does not read past the end it is given", () => {
    const buf = Buffer.from("2000-10-10T20:55:36Z2000");
    assert.equal(parseIsoTime(buf, 0, 20), utc("2000-10-10T20:55:00Z"));
    assert.equal(
      parseIsoTime(Buffer.from("2000-10-10T20:55:36"), 0, 16),
      utc("2000-10-10T20:55:00Z"),
    );
  });
});

test("epoch numbers: seconds, milliseconds, microseconds, nanoseconds", () => {
  const expected = utc("2023-11-14T22:13:00Z");
  for (const value of [
    1_700_000_000, 1_700_000_000_123, 1_700_000_000_123_456, 1.700000000123456e18,
  ]) {
    assert.equal(minuteOfEpoch(value), expected, String(value));
  }
  assert.ok(Number.isNaN(minuteOfEpoch(-5)));
  assert.ok(Number.isNaN(minuteOfEpoch(Number.NaN)));
});

describe("regression (issue 8 defect 8): one out-of-range log time aborted an ingest", () => {
  // The range check judged the written wall clock; the instant after the zone could be UTC 1969 or 10000.
  for (const text of [
    "01/Jan/1970:00:30:00 +0100",
    "31/Dec/9999:23:30:00 -0100",
    "31/Dec/1969:23:59:00 +0000",
  ]) {
    test(`CLF ${text} is out of range`, () => assert.ok(Number.isNaN(clf(text))));
  }
  for (const text of ["1970-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"]) {
    test(`ISO ${text} is out of range`, () => assert.ok(Number.isNaN(iso(text))));
  }
  test("a wall clock outside the range whose UTC instant is inside it is accepted", () => {
    assert.equal(clf("31/Dec/1969:23:30:00 -0100"), utc("1970-01-01T00:30:00Z"));
    assert.equal(iso("1969-12-31T23:30:00-01:00"), utc("1970-01-01T00:30:00Z"));
  });
  test("epoch numbers: 0 is the first minute, a negative one is out of range", () => {
    assert.equal(minuteOfEpoch(0), 0);
    assert.ok(Number.isNaN(minuteOfEpoch(-60)));
  });
});
