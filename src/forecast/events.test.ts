import { test } from "node:test";
import assert from "node:assert/strict";
import { StrataError } from "../lib/errors.js";
import { applyEvents } from "./events.js";

const H = 3_600_000;
const base = { start: 10 * H, mean: [10, 10, 10, 10], p90: [20, 20, 20, 20], model: "profile" };

test("applyEvents multiplies hours starting inside each window, overlapping ones multiply", () => {
  const out = applyEvents(base, [
    { from: 11 * H, to: 13 * H, factor: 2, name: "campaign" },
    { from: 12 * H + 1, to: 20 * H, factor: 3 }, // starts after 12:00, so 12:00 is not inside
    { from: 12 * H, to: 13 * H, factor: 0.5 },
  ]);
  assert.deepEqual(out.mean, [10, 20, 10, 30]);
  assert.deepEqual(out.p90, [20, 40, 20, 60]);
  assert.equal(out.model, "profile");
  assert.deepEqual(base.mean, [10, 10, 10, 10], "input untouched");
});

test("applyEvents rejects malformed events", () => {
  assert.throws(
    () => applyEvents(base, [{ from: H, to: H, factor: 2, name: "tv" }]),
    /"tv": "to" must be after "from"/,
  );
  assert.throws(
    () => applyEvents(base, [{ from: 0, to: H, factor: -1 }]),
    (e: unknown) => e instanceof StrataError && e.code === "bad_request",
  );
  assert.throws(() => applyEvents(base, [{ from: 0, to: H, factor: NaN }]), /factor/);
});
