import type { Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import { guardDesired, type GuardResult } from "./guard.js";
import { leadTime, type LeadTime } from "./lead-time.js";
import { planSchedule, serversNeeded, type PlanForecast, type PlanStep } from "./planner.js";
import { Stabiliser } from "./scale-in.js";

const HOUR_MS = 3_600_000;

/** `off`: nothing; `forecast-only`: decide and record, never act; `on`: decide and act. */
export type ScaleMode = "off" | "forecast-only" | "on";
export const SCALE_MODES: readonly ScaleMode[] = ["off", "forecast-only", "on"];

/** How one group scales; `parseScalingConfig` builds it from strata.yaml. */
export interface ScaleSettings {
  mode: ScaleMode;
  /** Requests per second one server carries at 100% utilisation. */
  capacityPerServer: number;
  /** Utilisation the servers should run at: the guard's target and the mean forecast's. */
  targetUtilisation: number;
  /** Utilisation the mean forecast is planned at; null plans on the p90 alone. */
  meanUtilisation: number | null;
  /** Utilisation the p90 forecast may reach; null plans on the mean alone. */
  p90Utilisation: number | null;
  min: number;
  max: number;
  /** `auto` (measured) or a fixed lead time in ms. */
  leadTime: "auto" | number;
  leadTimeFallbackMs: number;
  /** Scale-in keeps the highest recommendation of this window. */
  stabilisationMs: number;
  guard: {
    enabled: boolean;
    /** Ratios within 1 +- tolerance change nothing. */
    tolerance: number;
    /** Traffic observed over this window (the busiest minute of it) is what the guard reads. */
    windowMs: number;
  };
  /** Time between decisions. */
  intervalMs: number;
}

/** Counts of a group's servers. */
export interface FleetSnapshot {
  inService: number;
  /** Launched, not yet in service. */
  launching: number;
  /**
   * Out of the balancer for a while and coming back: held out by a deployment's wave, or
   * unhealthy while still heartbeating. They count toward the group's size, not its capacity.
   */
  away: number;
  /** Leaving: out of the balancer, waiting for in-flight requests. */
  draining: number;
}

/**
 * What the executor acts through; implemented over FleetOps in the control plane and by a
 * simulated fleet in `strata simulate`. Calls for one group never overlap.
 */
export interface ScalePort {
  /** The group's servers now. Read-only. */
  snapshot(): Promise<FleetSnapshot>;
  /** Starts `count` servers from the group's `<group>:current` image. Not idempotent. */
  launch(count: number, reason: string): Promise<void>;
  /**
   * Retires `count` servers: not in service first, then older images; each drains from
   * the balancer and its in-flight requests finish before it terminates. Returns the names.
   */
  retire(count: number, reason: string): Promise<string[]>;
}

/** What the executor reads. Every method is read-only and may run concurrently. */
export interface ScaleInputs {
  /** The group's app's newest forecast with known events applied; null when there is none. */
  forecast(now: number): Promise<PlanForecast | null>;
  /** Peak-over-mean ratio by hour of day (24 entries, [] = unknown), learned from history. */
  peakRatios(now: number): Promise<readonly number[]>;
  /** Busiest per-second rate over [now - windowMs, now); null when nothing was observed. */
  observedRate(now: number, windowMs: number): Promise<number | null>;
  /** Service-in lags (ms) of the group's recent launches, oldest first. */
  launchLags(): Promise<readonly number[]>;
  /** True while a deployment of the group runs. */
  deploymentRunning(): Promise<boolean>;
}

export type ScaleAction = "launch" | "retire" | "hold";

/** One decision, with everything it was made from. */
export interface ScaleDecision {
  at: number;
  mode: ScaleMode;
  action: ScaleAction;
  count: number;
  inService: number;
  launching: number;
  /** Servers the plan needs from now to one lead time ahead. */
  planned: number;
  /** Servers the guard's rule asks for; null without an observation. */
  observed: number | null;
  /** Servers the group is steered to. */
  target: number;
  lead: LeadTime;
  reason: string;
  /** True when the port carried it out. */
  acted: boolean;
  /** Set when the port failed after every retry. */
  error?: string;
}

export interface ScaleStatus {
  group: string;
  mode: ScaleMode;
  fleet: FleetSnapshot;
  lead: LeadTime | null;
  last: ScaleDecision | null;
  /** Recent launches and retirements (acted or, in forecast-only, recorded), newest first. */
  recent: ScaleDecision[];
  lastError: string | null;
}

export interface ScaleExecutorOptions {
  group: string;
  settings: ScaleSettings;
  clock: Clock;
  port: ScalePort;
  inputs: ScaleInputs;
  audit?: (action: string, subject: string, detail: Record<string, unknown>) => Promise<void>;
  /** Attempts of a failing port call. @default 4 */
  attempts?: number;
  /** First retry delay, doubled each time. @default 1000 */
  backoffMs?: number;
  /** Decisions kept for `status`. @default 50 */
  keep?: number;
}

export interface ScaleExecutor {
  /** Decides once at the clock's now and acts by the mode. Calls must not overlap. */
  tick(): Promise<ScaleDecision>;
  /** The schedule from now for the next `horizonMs` (default 24 h). Read-only. */
  plan(horizonMs?: number): Promise<{ steps: PlanStep[]; lead: LeadTime; forecast: boolean }>;
  status(): Promise<ScaleStatus>;
  setMode(mode: ScaleMode): Promise<void>;
  /** Ticks every `intervalMs` on the clock until `stop`. */
  start(): void;
  /** Stops the loop and waits for a running tick. Idempotent. */
  stop(): Promise<void>;
}

/** The executor of one group: the same code runs in the control plane and in `strata simulate`. */
export function createScaleExecutor(options: ScaleExecutorOptions): ScaleExecutor {
  const { group, clock, port, inputs } = options;
  const s: ScaleSettings = { ...options.settings, guard: { ...options.settings.guard } };
  const stabiliser = new Stabiliser(s.stabilisationMs);
  const keep = options.keep ?? 50;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 1000;
  const recent: ScaleDecision[] = [];
  let last: ScaleDecision | null = null;
  let lastRecorded = "";
  let lastError: string | null = null;
  let lastLead: LeadTime | null = null;
  let loop: Promise<void> | null = null;
  let abort: AbortController | null = null;
  const audit = (action: string, detail: Record<string, unknown>) =>
    options.audit?.(action, group, detail) ?? Promise.resolve();

  const capacity = () => ({
    capacityPerServer: s.capacityPerServer,
    meanUtilisation: s.meanUtilisation,
    p90Utilisation: s.p90Utilisation,
    min: s.min,
    max: s.max,
  });

  const currentLead = async (): Promise<LeadTime> =>
    (lastLead = leadTime({
      setting: s.leadTime,
      fallbackMs: s.leadTimeFallbackMs,
      lagsMs: s.leadTime === "auto" ? await inputs.launchLags() : [],
    }));

  async function retrying<T>(what: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        const message = `[scale] ${group}: ${what}: ${messageOf(err)}`;
        await audit("scale.error", { what, attempt, of: attempts, message });
        if (attempt >= attempts) throw new Error(message, { cause: err });
        await clock.sleep(backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  async function decide(): Promise<ScaleDecision> {
    const now = clock.now();
    const [fleet, forecast, ratios, lead, deploying] = await Promise.all([
      port.snapshot(),
      inputs.forecast(now),
      inputs.peakRatios(now),
      currentLead(),
      inputs.deploymentRunning(),
    ]);
    const stepMs = forecast?.stepMs ?? HOUR_MS;
    const steps = planSchedule({
      forecast,
      capacity: capacity(),
      peakRatios: ratios,
      leadMs: lead.ms,
      now,
      horizonMs: lead.ms + s.intervalMs,
    });
    // What a launch now serves: everything from one lead ahead until the next decision's launches arrive.
    const plan = serversNeeded(steps, stepMs, now, now + lead.ms + s.intervalMs, s.min);
    const rate = await inputs.observedRate(now, s.guard.windowMs);
    const guard: GuardResult | null =
      rate === null
        ? null
        : guardDesired({
            inService: fleet.inService,
            observedRate: rate,
            capacityPerServer: s.capacityPerServer,
            targetUtilisation: s.targetUtilisation,
            tolerance: s.guard.tolerance,
          });
    const have = fleet.inService + fleet.launching + fleet.away;
    const clamp = (n: number) => Math.min(s.max, Math.max(s.min, n));
    const planReason = plan.step
      ? `plan ${new Date(plan.step.at).toISOString().slice(11, 16)}: ${plan.step.reason}`
      : `plan: no forecast, min ${s.min}`;
    const base = {
      at: now,
      mode: s.mode,
      inService: fleet.inService,
      launching: fleet.launching,
      planned: plan.servers,
      observed: guard?.desired ?? null,
      lead,
      acted: false,
    };
    const guardOut = s.guard.enabled && guard !== null && guard.scaleOut;
    const outTarget = clamp(Math.max(plan.servers, guardOut ? guard.desired : 0));
    // Observation allows a scale-in only with an observation; the plan never goes below min.
    const recommendation = clamp(
      Math.max(plan.servers, guard === null ? have : s.guard.enabled ? guard.desired : 0),
    );
    const inTarget = stabiliser.record(now, recommendation);
    if (outTarget > have) {
      const why = guardOut && guard.desired >= plan.servers ? `guard: ${guard.reason}` : planReason;
      return {
        ...base,
        action: "launch",
        count: outTarget - have,
        target: outTarget,
        reason: `${why}; ${have} in service, launching or away, lead ${Math.round(lead.ms / 1000)}s (${lead.source})`,
      };
    }
    if (inTarget < have) {
      const reason = `${planReason}; ${guard ? guard.reason : "no observation"}; highest in the ${Math.round(s.stabilisationMs / 1000)}s window ${inTarget}`;
      if (deploying)
        return {
          ...base,
          action: "hold",
          count: 0,
          target: have,
          reason: `deployment running: scale-in held (${reason})`,
        };
      return { ...base, action: "retire", count: have - inTarget, target: inTarget, reason };
    }
    return { ...base, action: "hold", count: 0, target: have, reason: planReason };
  }

  async function record(d: ScaleDecision): Promise<void> {
    last = d;
    const key = `${d.action}:${d.count}:${d.acted}:${d.reason.startsWith("deployment") ? "deploy" : ""}`;
    const worth = d.action !== "hold" || d.reason.startsWith("deployment running");
    // forecast-only sees the same unacted decision every tick; record it when it changes.
    if (!worth || (!d.acted && key === lastRecorded)) return;
    lastRecorded = key;
    if (d.action !== "hold") {
      recent.unshift(d);
      if (recent.length > keep) recent.pop();
    }
    await audit(`scale.${d.action}`, {
      mode: d.mode,
      count: d.count,
      acted: d.acted,
      in_service: d.inService,
      launching: d.launching,
      planned: d.planned,
      observed: d.observed,
      target: d.target,
      lead_ms: d.lead.ms,
      lead_source: d.lead.source,
      reason: d.reason,
      ...(d.error ? { error: d.error } : {}),
    });
  }

  async function tick(): Promise<ScaleDecision> {
    if (s.mode === "off") {
      const d = await decide();
      last = {
        ...d,
        action: "hold",
        count: 0,
        reason: `mode off (would ${d.action} ${d.count}: ${d.reason})`,
      };
      return last;
    }
    let d = await decide();
    if (s.mode === "on" && d.action !== "hold") {
      try {
        if (d.action === "launch") await retrying("launch", () => port.launch(d.count, d.reason));
        else await retrying("retire", () => port.retire(d.count, d.reason));
        d = { ...d, acted: true };
        lastError = null;
      } catch (err) {
        lastError = messageOf(err);
        d = { ...d, error: lastError };
      }
    }
    await record(d);
    return d;
  }

  return {
    tick,
    async plan(horizonMs = 24 * HOUR_MS) {
      const now = clock.now();
      const [forecast, ratios, lead] = await Promise.all([
        inputs.forecast(now),
        inputs.peakRatios(now),
        currentLead(),
      ]);
      const steps = planSchedule({
        forecast,
        capacity: capacity(),
        peakRatios: ratios,
        leadMs: lead.ms,
        now,
        horizonMs,
      });
      return { steps, lead, forecast: forecast !== null };
    },
    async status() {
      return {
        group,
        mode: s.mode,
        fleet: await port.snapshot(),
        lead: lastLead ?? (await currentLead()),
        last,
        recent: [...recent],
        lastError,
      };
    },
    async setMode(mode) {
      if (mode === s.mode) return;
      await audit("scale.mode", { from: s.mode, to: mode, configured: options.settings.mode });
      s.mode = mode;
      lastRecorded = "";
    },
    start() {
      if (loop) return;
      abort = new AbortController();
      const signal = abort.signal;
      loop = (async () => {
        while (!signal.aborted) {
          try {
            await tick();
          } catch (err) {
            lastError = messageOf(err);
            await audit("scale.error", { what: "tick", message: lastError }).catch(() => {});
          }
          const now = clock.now();
          try {
            await clock.sleep(s.intervalMs - (now % s.intervalMs), signal);
          } catch {
            return;
          }
        }
      })();
    },
    async stop() {
      abort?.abort();
      await loop;
      loop = null;
    },
  };
}
