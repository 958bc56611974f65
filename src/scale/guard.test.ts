import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guardDesired } from "./guard.js";

describe("guardDesired (the HPA rule, tolerance 0.1)", () => {
  // capacity 10 req/s per server, target 0.5: each server should carry 5 req/s.
  const cases: [string, number, number, number, boolean][] = [
    ["on target", 4, 20, 4, false],
    ["9% over: within the tolerance", 4, 21.8, 4, false],
    ["11% over: ceil(4 x 1.11) = 5", 4, 22.2, 5, true],
    ["triple: ceil(4 x 3) = 12", 4, 60, 12, true],
    ["9% under: within the tolerance", 4, 18.2, 4, false],
    ["half: ceil(4 x 0.5) = 2 (a scale-in recommendation)", 4, 10, 2, false],
    ["idle: 0", 4, 0, 0, false],
    ["none in service with traffic: ceil(12 / 5) = 3", 0, 12, 3, true],
    ["none in service, no traffic", 0, 0, 0, false],
  ];
  for (const [name, inService, observedRate, desired, scaleOut] of cases) {
    it(name, () => {
      const r = guardDesired({
        inService,
        observedRate,
        capacityPerServer: 10,
        targetUtilisation: 0.5,
      });
      assert.equal(r.desired, desired);
      assert.equal(r.scaleOut, scaleOut);
    });
  }
});
