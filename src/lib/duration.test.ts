import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, parseDuration } from "./duration.js";

test("parseDuration reads every unit and refuses bare numbers and junk", () => {
  const cases: [unknown, number | null][] = [
    ["500ms", 500],
    ["90s", 90_000],
    ["10m", 600_000],
    ["1.5h", 5_400_000],
    ["28d", 28 * 86_400_000],
    ["2w", 14 * 86_400_000],
    [" 5s ", 5_000],
    ["28", null], // regression: `--min-history 28` meant days on the CLI and hours in YAML
    [28, null],
    ["5 parsecs", null],
    ["-5s", null],
    ["", null],
    [null, null],
  ];
  for (const [input, expected] of cases)
    assert.equal(parseDuration(input), expected, String(input));
});

test("formatDuration picks the largest whole unit", () => {
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(600_000), "10m");
  assert.equal(formatDuration(28 * 86_400_000), "4w");
  assert.equal(formatDuration(1_500), "1500ms");
});
