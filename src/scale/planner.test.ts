import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { applyEvents } from "../forecast/events.js";
import { learnPeakRatios, planSchedule, serversNeeded, type CapacityModel } from "./planner.js";

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC
const capacity: CapacityModel = {
  capacityPerServer: 1,
  meanUtilisation: 0.5,
  p90Utilisation: null,
  min: 1,
  max: 10,
};
const flat = (n: number, perHour: number) => Array.from({ length: n }, () => perHour);
const hourly = (mean: number[], p90 = mean) => ({ start: T0, stepMs: H, mean, p90 });

describe("planSchedule", () => {
  const cases: {
    name: string;
    mean: number[];
    p90?: number[];
    capacity?: Partial<CapacityModel>;
    ratios?: number[];
    servers: number[];
    reason?: RegExp;
  }[] = [
    {
      name: "mean at the target: 1 req/s at 0.5 of 1 req/s per server",
      mean: flat(3, 3600),
      servers: [2, 2, 2],
    },
    {
      name: "whole numbers are not rounded up by float noise",
      mean: flat(1, 3600 * 0.5 * 3),
      servers: [3],
    },
    {
      name: "the peak inside an hour: ratio 1.5 at 01:00 only",
      mean: flat(3, 3600),
      ratios: [1, 1.5, ...flat(22, 1)],
      servers: [2, 3, 2],
      reason: /peak 1\.50/,
    },
    { name: "clamped to min", mean: [0, 360], servers: [1, 1], reason: /clamped to min 1/ },
    { name: "clamped to max", mean: [3600 * 20], servers: [10], reason: /clamped to max 10/ },
    {
      name: "p90 at its own utilisation when it needs more than the mean",
      mean: [3600, 3600],
      p90: [3600, 3600 * 4],
      capacity: { p90Utilisation: 1 },
      servers: [2, 4],
      reason: /p90 1\.00|p90 4\.00/,
    },
    {
      name: "p90 alone (the issue's literal rule, p90 at the target)",
      mean: [3600],
      p90: [3600 * 2],
      capacity: { meanUtilisation: null, p90Utilisation: 0.5 },
      servers: [4],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const steps = planSchedule({
        forecast: hourly(c.mean, c.p90 ?? c.mean),
        capacity: { ...capacity, ...c.capacity },
        peakRatios: c.ratios ?? [],
        leadMs: 0,
        now: T0,
      });
      assert.deepEqual(
        steps.map((s) => s.servers),
        c.servers,
      );
      if (c.reason)
        assert.ok(
          steps.some((s) => c.reason!.test(s.reason)),
          steps.map((s) => s.reason).join("; "),
        );
    });
  }

  it("starts each launch one lead time before its step", () => {
    const steps = planSchedule({
      forecast: hourly(flat(4, 3600)),
      capacity,
      peakRatios: [],
      leadMs: 7 * 60_000,
      now: T0 + H + 1,
    });
    assert.deepEqual(
      steps.map((s) => [s.at - T0, s.launchBy - T0]),
      [
        [H, H - 7 * 60_000],
        [2 * H, 2 * H - 7 * 60_000],
        [3 * H, 3 * H - 7 * 60_000],
      ],
    );
  });

  it("includes known events (applied to the forecast before planning)", () => {
    const f = applyEvents({ start: T0, mean: flat(3, 3600), p90: flat(3, 3600), model: "x" }, [
      { from: T0 + H, to: T0 + 2 * H, factor: 3, name: "tv spot" },
    ]);
    const steps = planSchedule({
      forecast: { start: f.start, stepMs: H, mean: f.mean, p90: f.p90 },
      capacity,
      peakRatios: [],
      leadMs: 0,
      now: T0,
    });
    assert.deepEqual(
      steps.map((s) => s.servers),
      [2, 6, 2],
    );
  });

  it("plans nothing without a forecast", () => {
    assert.deepEqual(
      planSchedule({ forecast: null, capacity, peakRatios: [], leadMs: 0, now: T0 }),
      [],
    );
  });
});

describe("serversNeeded", () => {
  const steps = planSchedule({
    forecast: hourly([3600, 3600 * 4, 3600]),
    capacity,
    peakRatios: [],
    leadMs: 0,
    now: T0,
  });
  const cases: [string, number, number, number][] = [
    ["inside the first hour", T0, T0 + 30 * 60_000, 2],
    ["a window reaching into the busy hour", T0 + 50 * 60_000, T0 + 65 * 60_000, 8],
    ["a window ending exactly at the busy hour leaves it out", T0, T0 + H, 2],
    ["past the schedule: min", T0 + 5 * H, T0 + 6 * H, 1],
  ];
  for (const [name, from, to, servers] of cases)
    it(name, () => assert.equal(serversNeeded(steps, H, from, to, 1).servers, servers));
});

describe("learnPeakRatios", () => {
  it("learns max/mean per hour of day from the group's own steps, 1 where unseen", () => {
    const stepMs = 300_000;
    // Two days of 5-minute steps: every 09:00 hour has 11 steps of 10 and one of 32.
    const counts = new Float64Array(2 * 24 * 12).fill(10);
    for (const day of [0, 1]) counts[day * 288 + 9 * 12 + 6] = 32;
    counts[3 * 12] = NaN; // a missing step: its hour (03:00 of day 0) is not read
    const ratios = learnPeakRatios(
      { start: T0, stepMs, counts },
      { from: T0, to: T0 + 2 * 24 * H },
    );
    assert.equal(ratios.length, 24);
    assert.ok(Math.abs(ratios[9]! - (32 * 12) / (11 * 10 + 32)) < 1e-9);
    assert.equal(ratios[3], 1);
    assert.equal(ratios[0], 1);
  });

  it("keeps the chosen quantile of the days' ratios", () => {
    const counts = new Float64Array(3 * 24).fill(1); // hourly steps: every ratio is 1
    const r = learnPeakRatios(
      { start: T0, stepMs: H, counts },
      { from: T0, to: T0 + 3 * 24 * H, quantile: 1 },
    );
    assert.deepEqual(r, flat(24, 1));
  });
});
