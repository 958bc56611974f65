import type { ForecastMemo, PointModel } from "./model.js";
import type { HourlySeries } from "./series.js";
import { bridgeMissing, DAY_HOURS, hourOfDay, HOUR_MS, sliceSeries } from "./series.js";

/** Options of {@link recentErrors}. */
export interface RecentErrorsOptions {
  /** Past origins, one a day before the forecast origin, that the model is replayed from. */
  days: number;
  /** Hours of history each replayed forecast sees (ending at its own origin). */
  window: number;
  /** Hours each replayed forecast covers. */
  horizon: number;
  /** Replayed origins need at least this much history. @default 168 */
  minHistory?: number;
  memo?: ForecastMemo;
}

/** One replayed forecast hour with an actual. */
export interface ReplayedHour {
  /** Days before the forecast origin that this hour's forecast was made (1 = yesterday). */
  age: number;
  /** Whole days between its forecast's origin and the hour (0 = first 24 h). */
  leadDay: number;
  /** Hour of day of the forecast hour. */
  hour: number;
  forecast: number;
  actual: number;
}

/**
 * Replays `model` from each of the last `days` origins before the end of `history` (same
 * time of day), using only hours before each replayed origin, and returns the forecast and
 * actual of every hour that is also before the end of the history. This is the rolling-origin
 * backtest on the series' own past that both model choice and the p90 bound learn from.
 */
export function recentErrors(
  model: PointModel,
  history: HourlySeries,
  options: RecentErrorsOptions,
): ReplayedHour[] {
  const n = history.values.length;
  const minHistory = options.minHistory ?? 168;
  const out: ReplayedHour[] = [];
  for (let k = 1; k <= options.days; k++) {
    const origin = n - k * DAY_HOURS;
    if (origin < minHistory) break;
    const from = Math.max(0, origin - options.window);
    const f = memoPredict(model, sliceSeries(history, from, origin), options.horizon, options.memo);
    for (let h = 0; h < options.horizon && origin + h < n; h++) {
      const actual = history.values[origin + h] as number;
      if (Number.isNaN(actual)) continue;
      out.push({
        age: k,
        leadDay: Math.floor(h / DAY_HOURS),
        hour: hourOfDay(history.start + (origin + h) * HOUR_MS),
        forecast: f[h] as number,
        actual,
      });
    }
  }
  return out;
}

/** Bridges the history, predicts, and caches by model, span and horizon. */
export function memoPredict(
  model: PointModel,
  history: HourlySeries,
  horizon: number,
  memo?: ForecastMemo,
): number[] {
  const key = `${model.memoKey ?? model.name}|${history.start}|${history.values.length}|${horizon}`;
  const hit = memo?.get(key);
  if (hit) return hit;
  const f = model.predict({ start: history.start, values: bridgeMissing(history) }, horizon);
  memo?.set(key, f);
  return f;
}

/** wMAPE of replayed hours: sum |f - a| / sum a (Infinity when there are none). */
export function replayedWmape(hours: readonly ReplayedHour[], maxLeadDay = 0): number {
  let err = 0;
  let sum = 0;
  for (const r of hours) {
    if (r.leadDay > maxLeadDay) continue;
    err += Math.abs(r.forecast - r.actual);
    sum += r.actual;
  }
  return sum > 0 ? err / sum : Infinity;
}

// Fewer replayed days than two weeks is a small sample (see upperFactors).
const FEW_DAYS = 14;

/** Options of {@link upperFactors}. */
export interface UpperFactorsOptions {
  /** @default 0.9 */
  quantile?: number;
  /** Hours of day on each side pooled with an hour's own errors. @default 1 */
  band?: number;
  /** Factor when there is no past error to learn from. @default 1.5 */
  fallback?: number;
}

/**
 * Per hour-of-day multipliers turning a mean into an upper bound: the conformal `quantile`
 * of the ratios actual / forecast of the replayed hours at that hour of day (± `band` hours),
 * per lead day (lead days without errors reuse the nearest earlier one). Never below 1.
 */
export function upperFactors(
  hours: readonly ReplayedHour[],
  leadDays: number,
  options: UpperFactorsOptions = {},
): number[][] {
  const q = options.quantile ?? 0.9;
  const band = options.band ?? 1;
  const fallback = options.fallback ?? 1.5;
  const out: number[][] = [];
  for (let lead = 0; lead < leadDays; lead++) {
    const ratios: number[][] = Array.from({ length: DAY_HOURS }, () => []);
    for (const r of hours) {
      if (r.leadDay !== lead || !(r.forecast > 0)) continue;
      for (let b = -band; b <= band; b++)
        ratios[(r.hour + b + DAY_HOURS) % DAY_HOURS]?.push(r.actual / r.forecast);
    }
    const any = ratios.some((xs) => xs.length > 0);
    if (!any) {
      out.push(out[lead - 1] ?? new Array<number>(DAY_HOURS).fill(fallback));
      continue;
    }
    const pooled = conformalQuantile(ratios.flat(), q);
    // With few replayed days an hour's own quantile rests on a handful of days: it is not
    // allowed below the quantile of all hours.
    const days = new Set(hours.filter((r) => r.leadDay === lead).map((r) => r.age)).size;
    const floor = days < FEW_DAYS ? pooled : 1;
    out.push(
      ratios.map((xs) => Math.max(1, floor, xs.length >= 5 ? conformalQuantile(xs, q) : pooled)),
    );
  }
  return out;
}

/**
 * The ceil((n + 1) q)-th smallest of n values (split-conformal rank): a new value from the
 * same distribution stays at or below it with probability at least q. Plain sample
 * quantiles of a few dozen errors cover less than q on the next day.
 */
export function conformalQuantile(xs: readonly number[], q: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.min(s.length, Math.ceil((s.length + 1) * q));
  return s[rank - 1] as number;
}
