import { readFile } from "node:fs/promises";
import { gunzipSync } from "node:zlib";
import { StrataError } from "../lib/errors.js";
import { backtestOrigins } from "../forecast/backtest.js";
import { createForecastMemo, type Forecast } from "../forecast/model.js";
import { createForecastModel } from "../forecast/registry.js";
import { bridgeMissing, type HourlySeries, sliceSeries, WEEK_HOURS } from "../forecast/series.js";
import { createCountsCsvReader, type CountsCsvOptions } from "../traffic/counts/counts-reader.js";
import { splitCsvLine } from "../traffic/counts/csv-line.js";
import { parseTimestamp } from "../traffic/counts/wall-time.js";
import { createScaleExecutor, type ScaleInputs, type ScaleSettings } from "./executor.js";
import { learnPeakRatios, type PlanForecast } from "./planner.js";
import { DEFAULT_SCALING } from "./scale-config.js";
import { createSimClock, createSimulatedFleet } from "./sim-fleet.js";

export const STEP_MS = 300_000;
const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The contract's utilisation: the trace's peak needs `peakServers` at 0.7. */
export const SIM_UTILISATION = 0.7;

export const POLICIES = [
  "static",
  "reactive",
  "forecast",
  "forecast-p90",
  "strata",
  "oracle",
] as const;
export type PolicyName = (typeof POLICIES)[number];

/** A trace on the simulation's 5-minute grid. Times are wall-clock ms as written in the file. */
export interface Trace {
  name: string;
  /** Start of step 0, a whole hour. */
  start: number;
  /** Requests per step; missing steps hold the bridged hourly value / 12. */
  counts: Float64Array;
  /** 1 where the step's hour is missing data (skipped in the scores). */
  missing: Uint8Array;
  /** Hourly totals as the forecaster reads them (NaN = missing). */
  hourly: HourlySeries;
}

/** Reads a CSV of timestamps and counts (plain or gzip) onto 5-minute steps. */
export async function readTrace(path: string, options: CountsCsvOptions): Promise<Trace> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new StrataError("not_found", `[simulate] ${path}: cannot read: ${String(err)}`, {
      cause: err,
    });
  }
  const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString(
    "utf8",
  );
  return traceFromText(text, options, path);
}

/**
 * Sums the rows of a CSV text into 5-minute steps. A step counts as missing when its hour
 * is (the counts reader's rule: a row absent or flagged, or a long zero run judged a hole).
 */
export function traceFromText(text: string, options: CountsCsvOptions, name = "trace"): Trace {
  const lines = text.split("\n");
  const hourlyReader = createCountsCsvReader(options);
  for (const line of lines) hourlyReader.pushLine(line);
  const hours = hourlyReader.end();
  if (hours.stepSeconds > STEP_MS / 1000)
    throw new StrataError(
      "bad_request",
      `[simulate] ${name}: rows are ${hours.stepSeconds} s apart; the simulation needs 5 minutes or finer`,
    );
  const start = hours.start;
  const n = hours.values.length * 12;
  const counts = new Float64Array(n);
  let header: { time: number; value: number; missing: number } | undefined;
  for (const raw of lines) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const cells = splitCsvLine(line);
    if (!header) {
      const names = splitCsvLine(line.replace(/^\uFEFF/, "")).map((c) => c.trim());
      header = {
        time: names.indexOf(options.timeColumn),
        value: names.indexOf(options.valueColumn),
        missing: options.missingColumn ? names.indexOf(options.missingColumn) : -1,
      };
      continue;
    }
    const t = parseTimestamp(cells[header.time] ?? "");
    const v = Number((cells[header.value] ?? "").trim());
    if (!t || !Number.isFinite(v) || v < 0 || (cells[header.value] ?? "").trim() === "") continue;
    const i = Math.floor((t.wall - start) / STEP_MS);
    if (i >= 0 && i < n) counts[i] = (counts[i] as number) + v;
  }
  const bridged = bridgeMissing({ start, values: hours.values });
  const missing = new Uint8Array(n);
  hours.values.forEach((v, h) => {
    if (!Number.isNaN(v)) return;
    for (let k = 0; k < 12; k++) {
      missing[h * 12 + k] = 1;
      counts[h * 12 + k] = (bridged[h] as number) / 12;
    }
  });
  return { name, start, counts, missing, hourly: { start, values: hours.values } };
}

/** Options of {@link simulate}. */
export interface SimulateOptions {
  policies?: readonly PolicyName[];
  /** Service-in lag of a launch. @default 10 min */
  lagMs?: number;
  /** Servers the trace's peak needs at utilisation 0.7. @default 40 */
  peakServers?: number;
  /** History a day needs before it is forecast and evaluated. @default 28 days */
  minHistoryMs?: number;
  /** Keeps per-step in-service and billed counts for a CSV. @default false */
  keepSteps?: boolean;
  /** Settings of the `strata` policy before the trace's capacity is set. @default DEFAULT_SCALING */
  strata?: Partial<ScaleSettings>;
  /** Daily forecasts made before (forecastDaily), to share them between runs of one trace. */
  daily?: Map<number, Forecast>;
  /** Quantile of the learned peak ratios (see learnPeakRatios); 0 turns them off. @default 0.5 */
  peakQuantile?: number;
  onProgress?: (line: string) => void;
}

export interface PolicyResult {
  policy: PolicyName;
  server_hours: number;
  under_server_minutes: number;
  overload_minutes: number;
  actions: number;
}

/** The `--json` document of `strata simulate`. */
export interface SimulationReport {
  trace: string;
  lag_minutes: number;
  peak_servers: number;
  evaluated_minutes: number;
  policies: PolicyResult[];
}

export interface SimulationRun {
  report: SimulationReport;
  /** Requests/s one server carries at 100%. */
  capacity: number;
  evaluation: { from: number; to: number };
  seconds: { forecast: number; policies: Record<string, number> };
  /** Per step of the evaluation, when `keepSteps`. */
  steps?: {
    at: number[];
    demand: number[];
    needed: number[];
    missing: boolean[];
    inService: Record<string, number[]>;
    billed: Record<string, number[]>;
  };
}

/**
 * The simulation contract of issue 9: 5-minute steps, capacity C = peak / (peakServers x
 * 0.7), launches billed at once and serving one lag later, a forecast at every 00:00 from
 * the history before it, evaluated from day 29. Each policy is the real executor (planner,
 * guard, stabilisation, lead time) on a simulated clock and fleet, set up as that policy.
 */
export async function simulate(
  trace: Trace,
  options: SimulateOptions = {},
): Promise<SimulationRun> {
  const lagMs = options.lagMs ?? 10 * MINUTE_MS;
  const peakServers = options.peakServers ?? 40;
  const policies = options.policies ?? POLICIES;
  const say = options.onProgress ?? (() => {});
  const n = trace.counts.length;
  let peak = 0;
  for (let i = 0; i < n; i++)
    if (!trace.missing[i]) peak = Math.max(peak, trace.counts[i] as number);
  if (peak <= 0) throw new StrataError("bad_request", `[simulate] ${trace.name}: no traffic`);
  const capacity = peak / (STEP_MS / 1000) / (peakServers * SIM_UTILISATION);
  const needed = new Int32Array(n);
  for (let i = 0; i < n; i++)
    needed[i] = Math.ceil((trace.counts[i] as number) / 300 / (capacity * SIM_UTILISATION) - 1e-9);

  const minHistory = Math.round((options.minHistoryMs ?? 28 * DAY_MS) / HOUR_MS);
  const origins = forecastOrigins(trace, options.minHistoryMs);
  if (origins.length === 0)
    throw new StrataError(
      "bad_request",
      `[simulate] ${trace.name}: no whole day has ${minHistory / 24} days of history before it`,
    );
  const from = trace.start + (origins[0] as number) * HOUR_MS;
  const to = trace.start + ((origins.at(-1) as number) + 24) * HOUR_MS;

  const t0 = performance.now();
  const wantsForecast = policies.some(
    (p) => p === "forecast" || p === "forecast-p90" || p === "strata",
  );
  const daily = options.daily ?? (wantsForecast ? forecastDaily(trace, origins) : new Map());
  if (wantsForecast && !options.daily)
    say(`forecast ${origins.length} days in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const forecastSeconds = (performance.now() - t0) / 1000;

  let staticCount = 0;
  for (let i = index(trace, from); i < index(trace, to); i++)
    if (!trace.missing[i]) staticCount = Math.max(staticCount, needed[i] as number);

  const run: SimulationRun = {
    report: {
      trace: trace.name,
      lag_minutes: lagMs / MINUTE_MS,
      peak_servers: peakServers,
      evaluated_minutes: 0,
      policies: [],
    },
    capacity,
    evaluation: { from, to },
    seconds: { forecast: forecastSeconds, policies: {} },
  };
  if (options.keepSteps) {
    const at: number[] = [];
    const demand: number[] = [];
    const need: number[] = [];
    const miss: boolean[] = [];
    for (let i = index(trace, from); i < index(trace, to); i++) {
      at.push(trace.start + i * STEP_MS);
      demand.push((trace.counts[i] as number) / 300);
      need.push(needed[i] as number);
      miss.push(trace.missing[i] === 1);
    }
    run.steps = { at, demand, needed: need, missing: miss, inService: {}, billed: {} };
  }
  for (const policy of policies) {
    const t1 = performance.now();
    const setup = policySetup(policy, {
      capacity,
      lagMs,
      staticCount,
      trace,
      daily,
      strata: options.strata ?? {},
      peakQuantile: options.peakQuantile,
    });
    const result = await runPolicy(policy, setup, trace, needed, capacity, lagMs, from, to, run);
    run.report.policies.push(result.score);
    run.report.evaluated_minutes = result.evaluatedMinutes;
    run.seconds.policies[policy] = (performance.now() - t1) / 1000;
    say(`${policy}: ${run.seconds.policies[policy]!.toFixed(2)} s`);
  }
  return run;
}

/** The forecast origins of a trace: 00:00 of each whole day with `minHistoryMs` before it. */
export function forecastOrigins(trace: Trace, minHistoryMs = 28 * DAY_MS): number[] {
  return backtestOrigins(trace.hourly, Math.round(minHistoryMs / HOUR_MS));
}

/**
 * The daily forecasts as production makes them: at every origin (hour index), 48 hours
 * from at most the last 8 weeks before it, by the project's `auto` forecaster. Keyed by
 * the origin's time.
 */
export function forecastDaily(trace: Trace, origins: readonly number[]): Map<number, Forecast> {
  const model = createForecastModel("auto", { memo: createForecastMemo() });
  const out = new Map<number, Forecast>();
  for (const o of origins) {
    const history = sliceSeries(trace.hourly, Math.max(0, o - 8 * WEEK_HOURS), o);
    out.set(trace.start + o * HOUR_MS, model.forecast(history, 48));
  }
  return out;
}

function index(trace: Trace, t: number): number {
  return Math.round((t - trace.start) / STEP_MS);
}

interface PolicySetup {
  settings: ScaleSettings;
  forecast: (now: number) => PlanForecast | null;
  peakRatios: boolean;
  peakQuantile?: number | undefined;
}

function policySetup(
  policy: PolicyName,
  ctx: {
    capacity: number;
    lagMs: number;
    staticCount: number;
    trace: Trace;
    daily: Map<number, Forecast>;
    strata: Partial<ScaleSettings>;
    peakQuantile: number | undefined;
  },
): PolicySetup {
  const u = SIM_UTILISATION;
  const base: ScaleSettings = {
    ...DEFAULT_SCALING,
    mode: "on",
    capacityPerServer: ctx.capacity,
    targetUtilisation: u,
    meanUtilisation: u,
    min: 1,
    max: 1_000_000,
    intervalMs: STEP_MS,
    guard: { ...DEFAULT_SCALING.guard, windowMs: STEP_MS },
  };
  const dailyForecast = (now: number): PlanForecast | null => {
    const origin = Math.floor(now / DAY_MS) * DAY_MS;
    const f = ctx.daily.get(origin) ?? ctx.daily.get(origin - DAY_MS);
    return f ? { start: f.start, stepMs: HOUR_MS, mean: f.mean, p90: f.p90 } : null;
  };
  const hourly = {
    guard: { ...base.guard, enabled: false },
    leadTime: 0,
    stabilisationMs: 0,
    intervalMs: HOUR_MS,
  } as const;
  switch (policy) {
    case "static":
      return {
        settings: {
          ...base,
          min: ctx.staticCount,
          max: ctx.staticCount,
          guard: { ...base.guard, enabled: false },
        },
        forecast: () => null,
        peakRatios: false,
      };
    case "reactive":
      return {
        settings: { ...base, stabilisationMs: 5 * MINUTE_MS },
        forecast: () => null,
        peakRatios: false,
      };
    case "forecast":
      return {
        settings: { ...base, ...hourly, meanUtilisation: u, p90Utilisation: null },
        forecast: dailyForecast,
        peakRatios: false,
      };
    case "forecast-p90":
      return {
        settings: { ...base, ...hourly, meanUtilisation: null, p90Utilisation: u },
        forecast: dailyForecast,
        peakRatios: false,
      };
    case "strata":
      return {
        settings: { ...base, ...ctx.strata, capacityPerServer: ctx.capacity, mode: "on" },
        forecast: dailyForecast,
        peakRatios: ctx.peakQuantile !== 0,
        peakQuantile: ctx.peakQuantile,
      };
    case "oracle": {
      const { counts, start } = ctx.trace;
      return {
        settings: {
          ...base,
          meanUtilisation: u,
          p90Utilisation: null,
          leadTime: ctx.lagMs,
          stabilisationMs: 0,
          guard: { ...base.guard, enabled: false },
        },
        // The future itself, step by step: what the trace will demand.
        forecast: () => ({ start, stepMs: STEP_MS, mean: counts, p90: counts }),
        peakRatios: false,
      };
    }
  }
}

async function runPolicy(
  policy: PolicyName,
  setup: PolicySetup,
  trace: Trace,
  needed: Int32Array,
  capacity: number,
  lagMs: number,
  from: number,
  to: number,
  run: SimulationRun,
): Promise<{ score: PolicyResult; evaluatedMinutes: number }> {
  const clock = createSimClock(from);
  const startCount =
    policy === "static" ? setup.settings.min : Math.max(1, needed[index(trace, from)] ?? 1);
  const fleet = createSimulatedFleet({ clock, lagMs, initial: startCount });
  let ratios: { day: number; values: number[] } | null = null;
  const steps = { start: trace.start, stepMs: STEP_MS, counts: observedCounts(trace) };
  const inputs: ScaleInputs = {
    forecast: async (now) => setup.forecast(now),
    peakRatios: async (now) => {
      if (!setup.peakRatios) return [];
      const day = Math.floor(now / DAY_MS);
      if (ratios?.day !== day)
        ratios = {
          day,
          values: learnPeakRatios(steps, {
            from: now - 14 * DAY_MS,
            to: now,
            ...(setup.peakQuantile !== undefined ? { quantile: setup.peakQuantile } : {}),
          }),
        };
      return ratios.values;
    },
    observedRate: async (now, windowMs) => {
      let max: number | null = null;
      for (let t = now - windowMs; t < now; t += STEP_MS) {
        const v = trace.counts[index(trace, t)];
        if (v !== undefined) max = Math.max(max ?? 0, v / 300);
      }
      return max;
    },
    launchLags: async () => fleet.lags(),
    deploymentRunning: async () => false,
  };
  const executor = createScaleExecutor({
    group: policy,
    settings: setup.settings,
    clock,
    port: fleet,
    inputs,
  });
  let billedMinutes = 0;
  let under = 0;
  let overload = 0;
  let actions = 0;
  let evaluated = 0;
  const keep = run.steps;
  const inServiceSteps: number[] = [];
  const billedSteps: number[] = [];
  const interval = setup.settings.intervalMs;
  for (let i = index(trace, from); i < index(trace, to); i++) {
    const t = trace.start + i * STEP_MS;
    clock.set(t);
    fleet.advance(t);
    if (t % interval === 0) {
      const d = await executor.tick();
      if (d.acted) actions++;
    }
    if (keep) {
      inServiceSteps.push(fleet.inServiceAt(t));
      billedSteps.push(fleet.alive());
    }
    if (trace.missing[i]) continue;
    evaluated += 5;
    billedMinutes += fleet.alive() * 5;
    const demand = (trace.counts[i] as number) / 300;
    const need = needed[i] as number;
    for (let m = 0; m < 5; m++) {
      const serving = fleet.inServiceAt(t + m * MINUTE_MS);
      under += Math.max(0, need - serving);
      if (demand > capacity * serving * (1 + 1e-12)) overload++;
    }
  }
  if (keep) {
    keep.inService[policy] = inServiceSteps;
    keep.billed[policy] = billedSteps;
  }
  return {
    score: {
      policy,
      server_hours: Math.round((billedMinutes / 60) * 100) / 100,
      under_server_minutes: under,
      overload_minutes: overload,
      actions,
    },
    evaluatedMinutes: evaluated,
  };
}

/** Counts as the balancer observed them: NaN where the trace is missing, for learning ratios. */
function observedCounts(trace: Trace): Float64Array {
  const out = new Float64Array(trace.counts.length);
  for (let i = 0; i < out.length; i++)
    out[i] = trace.missing[i] ? NaN : (trace.counts[i] as number);
  return out;
}
