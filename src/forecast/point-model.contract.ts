import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { PointModel } from "./model.js";

/** Options of {@link runPointModelContract}. */
export interface PointModelContractOptions {
  create: () => PointModel;
  /** Names of checks to skip, each with the reason. */
  skip?: Record<string, string>;
}

const MONDAY = Date.parse("2024-01-01T00:00:00Z");

/** Six weeks of hourly traffic with daily and weekly cycles, a drift and some noise. */
function traffic(hours = 6 * 168): number[] {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) as number;
  return Array.from({ length: hours }, (_, i) => {
    const day = Math.floor(i / 24) % 7;
    const cycle = 1 + 0.6 * Math.sin((2 * Math.PI * ((i % 24) - 6)) / 24);
    return Math.round(
      1000 * cycle * (day >= 5 ? 0.6 : 1) * (1 + i / 5000) * (0.9 + 0.2 * random()),
    );
  });
}

/** What every point model must do, whatever its method. */
export function runPointModelContract(options: PointModelContractOptions): void {
  const skip = options.skip ?? {};
  const name = options.create().name;
  describe(`PointModel contract: ${name}`, () => {
    test("forecasts `horizon` finite, non-negative values", { skip: skip.shape }, () => {
      for (const horizon of [0, 1, 24, 48]) {
        const f = options.create().predict({ start: MONDAY, values: traffic() }, horizon);
        assert.equal(f.length, horizon);
        assert.ok(
          f.every((x) => Number.isFinite(x) && x >= 0),
          String(f.slice(0, 5)),
        );
      }
    });

    test(
      "is pure: same history, same forecast; the history is not modified",
      { skip: skip.pure },
      () => {
        const values = traffic();
        const copy = [...values];
        const a = options.create().predict({ start: MONDAY, values }, 48);
        const b = options.create().predict({ start: MONDAY, values }, 48);
        assert.deepEqual(a, b);
        assert.deepEqual(values, copy);
      },
    );

    test("scaling the history scales the forecast", { skip: skip.scale }, () => {
      const values = traffic();
      const a = options.create().predict({ start: MONDAY, values }, 48);
      const b = options
        .create()
        .predict({ start: MONDAY, values: values.map((v) => v * 1000) }, 48);
      a.forEach((x, i) =>
        assert.ok(
          Math.abs((b[i] as number) - 1000 * x) <= 1e-6 * Math.max(1, 1000 * x),
          `hour ${i}`,
        ),
      );
    });

    test("copes with short histories (none, 30 hours, 9 days)", { skip: skip.short }, () => {
      for (const hours of [0, 30, 9 * 24]) {
        const f = options.create().predict({ start: MONDAY, values: traffic(hours) }, 24);
        assert.equal(f.length, 24);
        assert.ok(
          f.every((x) => Number.isFinite(x) && x >= 0),
          `${hours} hours`,
        );
      }
    });

    test(
      "roughly follows a regular series (within 25% wMAPE on the next day)",
      { skip: skip.accuracy },
      () => {
        const all = traffic(6 * 168 + 24);
        const f = options.create().predict({ start: MONDAY, values: all.slice(0, 6 * 168) }, 24);
        const actual = all.slice(6 * 168);
        const wmape =
          f.reduce((s, x, i) => s + Math.abs(x - (actual[i] as number)), 0) /
          actual.reduce((s, x) => s + x, 0);
        assert.ok(wmape < 0.25, `wMAPE ${wmape}`);
      },
    );
  });
}
