import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createDshwModel, dshwFilter, dshwForecast } from "./dshw.js";
import { runPointModelContract } from "../point-model.contract.js";

const start = Date.parse("2024-01-01T00:00:00Z");
/** Three identical weeks with distinct daily and weekly cycles. */
function periodic(weeks: number): number[] {
  return Array.from({ length: 168 * weeks }, (_, i) => {
    const h = i % 24;
    const d = Math.floor((i % 168) / 24);
    return (100 + 50 * Math.sin((2 * Math.PI * h) / 24)) * (d >= 5 ? 0.5 : 1 + 0.1 * d);
  });
}

describe("dshw", () => {
  test("one hand-computed step: level update and AR(1) error adjustment", () => {
    const y = [...new Array(336).fill(100), 200];
    const state = dshwFilter(y, { alpha: 0.5, delta: 0, omega: 0, phi: 0.5 });
    assert.ok(Math.abs(state.level - 150) < 1e-9); // 0.5 * 200 + 0.5 * 100
    assert.ok(Math.abs(state.error - 100) < 1e-9); // 200 - 100
    assert.ok(Math.abs(state.sse - 100 * 100) < 1e-6);
    const f = dshwForecast(state, 0.5, 3);
    assert.ok(Math.abs((f[0] as number) - 200) < 1e-9); // 150 + 0.5 * 100
    assert.ok(Math.abs((f[1] as number) - 175) < 1e-9); // 150 + 0.25 * 100
    assert.ok(Math.abs((f[2] as number) - 162.5) < 1e-9);
  });

  test("a purely periodic series is fitted exactly and continued", () => {
    const y = periodic(3);
    const state = dshwFilter(y, { alpha: 0.2, delta: 0.2, omega: 0.2, phi: 0.3 });
    assert.ok(state.sse < 1e-12, String(state.sse));
    const f = createDshwModel().predict({ start, values: y }, 200);
    const next = periodic(2).slice(0, 200);
    f.forEach((x, i) =>
      assert.ok(Math.abs(x - (next[i] as number)) < 1e-6, `hour ${i}: ${x} vs ${next[i]}`),
    );
  });

  test("falls back to the last day with under two weeks of history", () => {
    const y = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(createDshwModel().predict({ start, values: y }, 2), [76, 77]);
  });
});

runPointModelContract({ create: () => createDshwModel() });
