import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  createScaleExecutor,
  type ScaleInputs,
  type ScaleMode,
  type ScaleSettings,
} from "./executor.js";
import type { PlanForecast } from "./planner.js";
import { DEFAULT_SCALING } from "./scale-config.js";
import { createSimClock, createSimulatedFleet } from "./sim-fleet.js";

const M = 60_000;
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);

interface Setup {
  settings?: Partial<ScaleSettings>;
  forecast?: PlanForecast | null;
  rate?: () => number | null;
  deploying?: () => boolean;
  initial?: number;
  lagMs?: number;
}

function setup(o: Setup = {}) {
  const clock = createSimClock(T0);
  const fleet = createSimulatedFleet({ clock, lagMs: o.lagMs ?? 5 * M, initial: o.initial ?? 2 });
  const audit: { action: string; detail: Record<string, unknown> }[] = [];
  const inputs: ScaleInputs = {
    forecast: async () => o.forecast ?? null,
    peakRatios: async () => [],
    observedRate: async () => (o.rate ? o.rate() : null),
    launchLags: async () => fleet.lags(),
    deploymentRunning: async () => o.deploying?.() ?? false,
  };
  const settings: ScaleSettings = {
    ...DEFAULT_SCALING,
    capacityPerServer: 10,
    mode: "on" as ScaleMode,
    min: 1,
    max: 50,
    ...o.settings,
  };
  const executor = createScaleExecutor({
    group: "web",
    settings,
    clock,
    port: fleet,
    inputs,
    audit: async (action, _subject, detail) => void audit.push({ action, detail }),
  });
  const at = async (ms: number) => {
    clock.set(T0 + ms);
    fleet.advance(T0 + ms);
    return executor.tick();
  };
  return { clock, fleet, executor, audit, at };
}

/** An hourly forecast of `perHour` requests from T0. */
const forecast = (perHour: number[]): PlanForecast => ({
  start: T0,
  stepMs: H,
  mean: perHour,
  p90: perHour,
});

describe("executor", () => {
  it("launches one lead time before the planned hour, not earlier", async () => {
    // 2 servers until 01:00, then 7 req/s x ... = 14 at 0.5 of 10 req/s: lead 5 min, interval 1 min.
    const t = setup({
      settings: { leadTime: 5 * M, intervalMs: M, targetUtilisation: 0.5, meanUtilisation: 0.5 },
      forecast: forecast([3600 * 10, 3600 * 70, 3600 * 70]),
      initial: 2,
    });
    assert.equal((await t.at(50 * M)).action, "hold");
    assert.equal((await t.at(54 * M)).action, "hold");
    const d = await t.at(55 * M); // exactly one lead (5 min) before 01:00
    assert.equal(d.action, "launch");
    assert.equal(d.count, 12);
    assert.match(d.reason, /plan 01:00/);
    assert.equal(t.fleet.inServiceAt(T0 + H), 14, "in service when the hour starts");
    assert.equal(t.audit.filter((a) => a.action === "scale.launch").length, 1);
  });

  it("the guard scales out at once on a surge (HPA rule) and ignores noise within the tolerance", async () => {
    let rate = 10; // 2 servers x 10 req/s at 0.5 = 10 req/s: on target
    const t = setup({
      settings: { targetUtilisation: 0.5, meanUtilisation: 0.5 },
      rate: () => rate,
      initial: 2,
    });
    rate = 10.9; // ratio 1.09: within 0.1
    assert.equal((await t.at(M)).action, "hold");
    rate = 30; // ratio 3: ceil(2 x 3) = 6
    const d = await t.at(2 * M);
    assert.equal(d.action, "launch");
    assert.equal(d.count, 4);
    assert.match(d.reason, /^guard: observed 30\.0 req\/s/);
  });

  it("scales in only after the stabilisation window, and never during a deployment", async () => {
    let rate = 40;
    let deploying = false;
    const t = setup({
      settings: { targetUtilisation: 0.5, meanUtilisation: 0.5, stabilisationMs: 10 * M },
      rate: () => rate,
      deploying: () => deploying,
      initial: 8,
    });
    assert.equal((await t.at(0)).action, "hold"); // 40 req/s on 8 x 10 at 0.5: on target
    rate = 10; // wants 2
    for (let m = 1; m <= 10; m++) assert.equal((await t.at(m * M)).action, "hold", `minute ${m}`);
    deploying = true;
    const held = await t.at(11 * M);
    assert.equal(held.action, "hold");
    assert.match(held.reason, /^deployment running: scale-in held/);
    assert.ok(
      t.audit.some((a) => a.action === "scale.hold" && /deployment/.test(String(a.detail.reason))),
    );
    deploying = false;
    const d = await t.at(12 * M);
    assert.equal(d.action, "retire");
    assert.equal(d.count, 6);
    assert.equal(t.fleet.snapshot !== undefined && (await t.fleet.snapshot()).inService, 2);
  });

  it("forecast-only records what it would do and changes nothing; off records nothing", async () => {
    const t = setup({ settings: { mode: "forecast-only" }, rate: () => 100, initial: 1 });
    const d = await t.at(M);
    assert.equal(d.action, "launch");
    assert.equal(d.acted, false);
    await t.at(2 * M); // the same decision again is not recorded twice
    assert.equal((await t.fleet.snapshot()).launching, 0);
    assert.equal(t.audit.filter((a) => a.action === "scale.launch").length, 1);
    assert.equal(t.audit[0]!.detail.acted, false);
    await t.executor.setMode("off");
    const off = await t.at(3 * M);
    assert.equal(off.action, "hold");
    assert.match(off.reason, /^mode off \(would launch/);
    assert.equal(t.audit.filter((a) => a.action === "scale.launch").length, 1);
    await t.executor.setMode("on");
    assert.equal((await t.at(4 * M)).acted, true);
    assert.equal((await t.fleet.snapshot()).launching, 14);
  });

  it("retries a failing provider with backoff, reports every failure and the final error", async () => {
    const t = setup({ rate: () => 100, initial: 1, settings: { intervalMs: M } });
    const sleeps: number[] = [];
    let calls = 0;
    const failing = createScaleExecutor({
      group: "web",
      settings: { ...DEFAULT_SCALING, capacityPerServer: 10, mode: "on" },
      clock: {
        now: () => T0,
        sleep: async (ms) => void sleeps.push(ms),
      },
      port: {
        snapshot: async () => ({ inService: 1, launching: 0, away: 0, draining: 0 }),
        launch: async () => {
          calls++;
          throw new Error("nova: 503 Service Unavailable");
        },
        retire: async () => [],
      },
      inputs: {
        forecast: async () => null,
        peakRatios: async () => [],
        observedRate: async () => 100,
        launchLags: async () => [],
        deploymentRunning: async () => false,
      },
      audit: async (action, _s, detail) => void t.audit.push({ action, detail }),
    });
    const d = await failing.tick();
    assert.equal(calls, 4);
    assert.deepEqual(sleeps, [1000, 2000, 4000]);
    assert.equal(d.acted, false);
    assert.match(d.error!, /launch: nova: 503/);
    assert.equal(t.audit.filter((a) => a.action === "scale.error").length, 4);
    assert.match((await failing.status()).lastError!, /503/);
  });

  it("measures the lead time from launches once there are enough", async () => {
    const t = setup({ initial: 0, lagMs: 7 * M });
    const status = await t.executor.status();
    assert.deepEqual(status.lead, {
      ms: DEFAULT_SCALING.leadTimeFallbackMs,
      source: "fallback",
      samples: 0,
    });
    const u = setup({ initial: 6, lagMs: 7 * M });
    assert.deepEqual((await u.executor.status()).lead, {
      ms: 7 * M,
      source: "measured",
      samples: 6,
    });
  });
});
