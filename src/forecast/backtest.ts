import { memoPredict } from "./calibrate.js";
import type { ForecasterOptions } from "./forecaster.js";
import { createForecastMemo } from "./model.js";
import { createForecastModel } from "./registry.js";
import { createSeasonalNaive } from "./models/seasonal-naive.js";
import type { HourlySeries } from "./series.js";
import { DAY_HOURS, firstMidnight, HOUR_MS, sliceSeries, tail, WEEK_HOURS } from "./series.js";

/** Options of {@link runBacktest}. */
export interface BacktestOptions {
  /** Models by registry name (`auto`, `snaive-week`, ...). */
  models: string[];
  /** A day is forecast only with at least this many hours of series before its 00:00. @default 672 (28 days) */
  minHistory?: number;
  /** Most recent hours of history a forecast may use. @default 1344 (8 weeks) */
  window?: number;
  /** Passed to every model (p90 quantile, calibration days). */
  forecaster?: Omit<ForecasterOptions, "memo" | "window">;
  /** Called after each origin, e.g. for a progress line. */
  onProgress?: (done: number, total: number) => void;
}

/** One forecast hour. Times are wall-clock ms as in the series. */
export interface BacktestRow {
  origin: number;
  hour: number;
  /** NaN where the hour is missing. */
  actual: number;
  mean: number;
  p90: number;
  /** The point model behind `mean`. */
  model: string;
}

/** Scores of one model over every forecast hour with an actual. */
export interface BacktestScore {
  model: string;
  /** Forecast hours with an actual. */
  hours: number;
  /** sum |f - a| / sum a. */
  wmape: number;
  /** MAE / MAE of the weekly seasonal naive on the same hours. */
  rmae: number;
  /** Share of hours where the mean was below the actual. */
  underShare: number;
  /** Share of hours where the actual was at most the p90 bound. */
  p90Coverage: number;
  /** How often each point model was behind the mean (for `auto`, its picks). */
  picks: Record<string, number>;
}

export interface BacktestResult {
  /** Wall-clock 00:00 of every forecast day. */
  origins: number[];
  scores: BacktestScore[];
  /** Rows per model name, in origin then hour order. */
  rows: Record<string, BacktestRow[]>;
}

/**
 * Indices of the forecast origins: 00:00 of every day that lies wholly inside the series and
 * has at least `minHistory` hours of series before it.
 */
export function backtestOrigins(series: HourlySeries, minHistory = 28 * DAY_HOURS): number[] {
  const out: number[] = [];
  for (let o = firstMidnight(series); o + DAY_HOURS <= series.values.length; o += DAY_HOURS) {
    if (o >= minHistory) out.push(o);
  }
  return out;
}

/**
 * The rolling-origin backtest: at every origin each model sees at most the last `window`
 * hours before it and forecasts that day's 24 hourly totals. Pure: one memo per call
 * shares refits between models and origins of this series only.
 */
export function runBacktest(series: HourlySeries, options: BacktestOptions): BacktestResult {
  const window = options.window ?? 8 * WEEK_HOURS;
  const memo = createForecastMemo();
  const models = options.models.map((name) =>
    createForecastModel(name, { ...options.forecaster, window, memo }),
  );
  const reference = createSeasonalNaive({ period: WEEK_HOURS });
  const origins = backtestOrigins(series, options.minHistory);
  const rows: Record<string, BacktestRow[]> = Object.fromEntries(models.map((m) => [m.name, []]));
  const naive: number[] = [];
  origins.forEach((o, i) => {
    const history = tail(sliceSeries(series, 0, o), window);
    const ref = memoPredict(reference, history, DAY_HOURS, memo);
    for (let h = 0; h < DAY_HOURS; h++) naive.push(ref[h] as number);
    for (const model of models) {
      const f = model.forecast(history, DAY_HOURS);
      const list = rows[model.name] as BacktestRow[];
      for (let h = 0; h < DAY_HOURS; h++) {
        list.push({
          origin: series.start + o * HOUR_MS,
          hour: series.start + (o + h) * HOUR_MS,
          actual: series.values[o + h] as number,
          mean: f.mean[h] as number,
          p90: f.p90[h] as number,
          model: f.model,
        });
      }
    }
    options.onProgress?.(i + 1, origins.length);
  });
  const scores = models.map((m) => scoreRows(m.name, rows[m.name] as BacktestRow[], naive));
  return { origins: origins.map((o) => series.start + o * HOUR_MS), scores, rows };
}

/** Scores rows against a reference forecast of the same hours (the weekly seasonal naive). */
export function scoreRows(
  model: string,
  rows: readonly BacktestRow[],
  reference: readonly number[],
): BacktestScore {
  let hours = 0;
  let absErr = 0;
  let refErr = 0;
  let actualSum = 0;
  let under = 0;
  let covered = 0;
  const picks: Record<string, number> = {};
  rows.forEach((r, i) => {
    if (i % DAY_HOURS === 0) picks[r.model] = (picks[r.model] ?? 0) + 1;
    if (Number.isNaN(r.actual)) return;
    hours++;
    absErr += Math.abs(r.mean - r.actual);
    refErr += Math.abs((reference[i] as number) - r.actual);
    actualSum += r.actual;
    if (r.mean < r.actual) under++;
    if (r.actual <= r.p90) covered++;
  });
  return {
    model,
    hours,
    wmape: actualSum > 0 ? absErr / actualSum : NaN,
    rmae: refErr > 0 ? absErr / refErr : NaN,
    underShare: hours ? under / hours : NaN,
    p90Coverage: hours ? covered / hours : NaN,
    picks,
  };
}
