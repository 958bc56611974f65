import assert from "node:assert/strict";
import { test } from "node:test";
import { StrataError } from "../lib/errors.js";
import { durationFlag } from "./duration-flag.js";

test("durationFlag reads the one grammar and names the flag on a bad value", () => {
  assert.equal(durationFlag("28d", "--min-history"), 28 * 86_400_000);
  assert.equal(durationFlag("672h", "--min-history"), 28 * 86_400_000);
  assert.equal(durationFlag("4w", "--min-history"), 28 * 86_400_000);
  assert.equal(durationFlag("20ms", "--poll-interval", { min: 10 }), 20);
  const cases: [string, Parameters<typeof durationFlag>[2], RegExp][] = [
    ["28", { bareUnit: "d" }, /^\[cli\] --x: expected a duration with a unit.*write "28d"/],
    ["1000", { bareUnit: "ms" }, /write "1000ms"/],
    ["four weeks", {}, /^\[cli\] --x: expected a duration with a unit.*got "four weeks"$/],
    ["5ms", { min: 10 }, /must be at least 10ms/],
    ["90m", { wholeHours: true }, /whole hours/],
    ["0s", {}, /more than 0/],
  ];
  for (const [text, limits, message] of cases) {
    assert.throws(
      () => durationFlag(text, "--x", limits),
      (err: unknown) =>
        err instanceof StrataError && err.code === "bad_request" && message.test(err.message),
      text,
    );
  }
});
