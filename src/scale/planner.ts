/**
 * The planner: a pure function from a forecast, a capacity model and the clock to the
 * servers a group needs per forecast step, and when each scale-out must start (one lead
 * time ahead) so that its servers are in service when the step begins.
 */
const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;

/** A forecast the planner reads: totals per step, known events already applied. */
export interface PlanForecast {
  /** Start of the first step, ms. */
  start: number;
  /** Length of a step: an hour for the daily forecasts, finer for a simulation's oracle. */
  stepMs: number;
  /** Expected requests per step. */
  mean: ArrayLike<number>;
  /** Upper bound (90%) of the requests per step. */
  p90: ArrayLike<number>;
}

/** How many requests a server carries and the bounds of the group. */
export interface CapacityModel {
  /** Requests per second one server carries at 100% utilisation. */
  capacityPerServer: number;
  /** Utilisation the mean forecast is planned at; null plans on the p90 alone. */
  meanUtilisation: number | null;
  /**
   * Utilisation the p90 forecast may reach; null plans on the mean alone. Equal to
   * `meanUtilisation`, the plan is ceil(p90 / (capacity x utilisation)).
   */
  p90Utilisation: number | null;
  min: number;
  max: number;
}

/** One step of the schedule. */
export interface PlanStep {
  /** Start of the forecast step, ms. */
  at: number;
  /** When a launch for this step must start: `at` minus the lead time. */
  launchBy: number;
  /** Forecast mean and p90 over the step, requests/s. */
  meanRate: number;
  p90Rate: number;
  /** Peak-step rate over step-mean rate learned for this hour of day (1 when not learned). */
  peakRatio: number;
  servers: number;
  reason: string;
}

export interface PlanInput {
  forecast: PlanForecast | null;
  capacity: CapacityModel;
  /**
   * Peak rate inside an hour over the hour's mean rate, by hour of day (24 entries, in the
   * same clock as the forecast's `start`); see {@link learnPeakRatios}. Empty: all 1.
   */
  peakRatios: readonly number[];
  leadMs: number;
  /** Steps that end at or before `now` are left out. */
  now: number;
  /** How far past `now` the schedule reaches. @default 24 h */
  horizonMs?: number;
}

/** The schedule of the steps of the forecast from `now` to `now + horizon`, clamped to [min, max]. */
export function planSchedule(input: PlanInput): PlanStep[] {
  const { forecast, leadMs, now } = input;
  const horizon = input.horizonMs ?? DAY_HOURS * HOUR_MS;
  if (!forecast || forecast.mean.length === 0) return [];
  const { start, stepMs } = forecast;
  const first = Math.max(0, Math.floor((now - start) / stepMs));
  const last = Math.min(forecast.mean.length, Math.ceil((now + horizon - start) / stepMs));
  const out: PlanStep[] = [];
  for (let i = first; i < last; i++) {
    const at = start + i * stepMs;
    out.push(planStep(input, at, forecast.mean[i] ?? 0, forecast.p90[i] ?? 0, stepMs, leadMs));
  }
  return out;
}

function planStep(
  input: PlanInput,
  at: number,
  mean: number,
  p90: number,
  stepMs: number,
  leadMs: number,
): PlanStep {
  const c = input.capacity;
  const meanRate = (mean * 1000) / stepMs;
  const p90Rate = (p90 * 1000) / stepMs;
  const peakRatio = stepMs >= HOUR_MS ? (input.peakRatios[hourOfDay(at)] ?? 1) : 1;
  const byMean =
    c.meanUtilisation === null
      ? 0
      : (meanRate * peakRatio) / (c.capacityPerServer * c.meanUtilisation);
  const byP90 =
    c.p90Utilisation === null
      ? 0
      : (p90Rate * peakRatio) / (c.capacityPerServer * c.p90Utilisation);
  // A hair below a whole number is that number: float noise must not buy a server.
  const raw = Math.ceil(Math.max(byMean, byP90) - 1e-9);
  const servers = Math.min(c.max, Math.max(c.min, raw));
  const parts: string[] = [];
  const fmt = (x: number) => (x >= 100 ? Math.round(x).toString() : x.toFixed(x >= 10 ? 1 : 2));
  if (c.p90Utilisation !== null && (byP90 >= byMean || c.meanUtilisation === null))
    parts.push(`p90 ${fmt(p90Rate)} req/s x peak ${peakRatio.toFixed(2)} at ${c.p90Utilisation}`);
  else
    parts.push(
      `mean ${fmt(meanRate)} req/s x peak ${peakRatio.toFixed(2)} at ${c.meanUtilisation}`,
    );
  let reason = `${parts[0]} needs ${raw}`;
  if (servers !== raw) reason += `, clamped to ${servers === c.min ? "min" : "max"} ${servers}`;
  return { at, launchBy: at - leadMs, meanRate, p90Rate, peakRatio, servers, reason };
}

/**
 * The most servers any step overlapping [from, to) needs, and that step; the group's
 * minimum (and no step) when the schedule does not cover the window.
 */
export function serversNeeded(
  steps: readonly PlanStep[],
  stepMs: number,
  from: number,
  to: number,
  min: number,
): { servers: number; step: PlanStep | null } {
  let best: PlanStep | null = null;
  for (const s of steps) {
    if (s.at + stepMs <= from || s.at >= to) continue;
    if (!best || s.servers > best.servers) best = s;
  }
  return { servers: best ? Math.max(min, best.servers) : min, step: best };
}

/** Counts at a regular step; NaN marks a missing step. */
export interface StepCounts {
  /** Start of the first step, ms. */
  start: number;
  stepMs: number;
  counts: ArrayLike<number>;
}

/** Options of {@link learnPeakRatios}. */
export interface PeakRatioOptions {
  /** Only hours starting in [from, to) are read. */
  from: number;
  to: number;
  /** Which quantile of the hours' ratios per hour of day is kept. @default 0.5 */
  quantile?: number;
}

/**
 * Learns, per hour of day, how far the busiest step of an hour runs above the hour's mean:
 * for every complete hour with traffic, max(step) / mean(step), then the `quantile` of those
 * ratios per hour of day. Hours of day never seen get 1. The ratio turns an hourly forecast
 * into what the busiest minutes inside the hour need.
 */
export function learnPeakRatios(series: StepCounts, options: PeakRatioOptions): number[] {
  const { start, stepMs, counts } = series;
  const perHour = Math.max(1, Math.round(HOUR_MS / stepMs));
  const byHour: number[][] = Array.from({ length: DAY_HOURS }, () => []);
  const firstHour = Math.ceil(Math.max(options.from, start) / HOUR_MS) * HOUR_MS;
  for (let h = firstHour; h + HOUR_MS <= options.to; h += HOUR_MS) {
    const i0 = Math.round((h - start) / stepMs);
    if (i0 < 0 || i0 + perHour > counts.length) continue;
    let sum = 0;
    let max = 0;
    let ok = true;
    for (let i = i0; i < i0 + perHour; i++) {
      const v = counts[i] as number;
      if (!Number.isFinite(v)) {
        ok = false;
        break;
      }
      sum += v;
      if (v > max) max = v;
    }
    if (!ok || sum <= 0) continue;
    byHour[hourOfDay(h)]!.push((max * perHour) / sum);
  }
  const q = options.quantile ?? 0.5;
  return byHour.map((xs) => (xs.length ? quantileOf(xs, q) : 1));
}

function quantileOf(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

function hourOfDay(ms: number): number {
  return ((Math.floor(ms / HOUR_MS) % DAY_HOURS) + DAY_HOURS) % DAY_HOURS;
}
