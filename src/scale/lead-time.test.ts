import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { leadTime, serviceInLags } from "./lead-time.js";

const S = 1000;

describe("leadTime", () => {
  it("a configured duration is used as it is", () => {
    assert.deepEqual(leadTime({ setting: 90 * S, fallbackMs: 1, lagsMs: [5 * S] }), {
      ms: 90 * S,
      source: "configured",
      samples: 0,
    });
  });
  it("auto falls back until 5 launches are known", () => {
    assert.deepEqual(leadTime({ setting: "auto", fallbackMs: 300 * S, lagsMs: [1, 2, 3, 4] }), {
      ms: 300 * S,
      source: "fallback",
      samples: 4,
    });
  });
  it("auto is the p95 of the last 20 launches only", () => {
    // 30 old slow launches, then 20 recent ones of 1..20 s: p95 of 1..20 = 19.05 s.
    const lags = [
      ...Array.from({ length: 30 }, () => 600 * S),
      ...Array.from({ length: 20 }, (_, i) => (i + 1) * S),
    ];
    assert.deepEqual(leadTime({ setting: "auto", fallbackMs: 1, lagsMs: lags }), {
      ms: 19_050,
      source: "measured",
      samples: 20,
    });
  });
  it("reads lags from server records, oldest launch first, skipping those never in service", () => {
    assert.deepEqual(
      serviceInLags([
        { launched_at: 200, in_service_at: 260 },
        { launched_at: 100, in_service_at: 130 },
        { launched_at: 300, in_service_at: null },
      ]),
      [30, 60],
    );
  });
});
