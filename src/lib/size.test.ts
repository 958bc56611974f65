import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSize } from "./size.js";

test("sizes need a unit", () => {
  const cases: [unknown, number | null][] = [
    ["2GiB", 2 * 1024 ** 3],
    ["64MiB", 64 * 1024 ** 2],
    ["512 KiB", 512 * 1024],
    ["100MB", 100e6],
    ["10B", 10],
    ["1024", null],
    ["1.5GiB", null],
    ["-1MiB", null],
    ["2gb", null],
    [2048, null],
  ];
  for (const [value, bytes] of cases) assert.equal(parseSize(value), bytes, String(value));
});
