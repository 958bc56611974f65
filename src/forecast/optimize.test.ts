import { test } from "node:test";
import assert from "node:assert/strict";
import { nelderMead } from "./optimize.js";

test("nelderMead finds the minimum of a shifted quadratic", () => {
  const r = nelderMead(
    (x) => ((x[0] as number) - 1) ** 2 + 3 * ((x[1] as number) + 2) ** 2,
    [0, 0],
    {
      maxEvaluations: 400,
      tolerance: 1e-12,
    },
  );
  assert.ok(Math.abs((r.x[0] as number) - 1) < 1e-3, String(r.x));
  assert.ok(Math.abs((r.x[1] as number) + 2) < 1e-3, String(r.x));
  assert.ok(r.evaluations <= 400 + 3);
});

test("nelderMead stops at its evaluation budget and treats NaN as worse", () => {
  let calls = 0;
  const r = nelderMead(
    (x) => {
      calls++;
      return (x[0] as number) < -5 ? NaN : Math.abs((x[0] as number) - 3);
    },
    [0],
    { maxEvaluations: 20 },
  );
  assert.ok(calls <= 22);
  assert.ok(r.value < 3);
});
