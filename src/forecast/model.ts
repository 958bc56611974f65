import type { HourlySeries } from "./series.js";

/**
 * A point forecaster: the model proper, without intervals or model choice.
 * Implementations live in `models/`, one file each, and are built by `createPointModel`.
 */
export interface PointModel {
  /** Registry name, e.g. `snaive-week`. */
  readonly name: string;
  /** One line for tables and docs. */
  readonly description: string;
  /**
   * What a `ForecastMemo` knows the model by, when two models share a name (a model fitted on
   * a clipped history is still named `mstl`). @default name
   */
  readonly memoKey?: string;
  /**
   * Forecasts the `horizon` hours that follow `history`. The history is already bridged
   * (no NaN) and holds only hours before the forecast origin. Called once per origin;
   * pure, so idempotent and safe to call concurrently.
   */
  predict(history: HourlySeries, horizon: number): number[];
}

/** What every forecast carries: a mean and a p90 upper bound per hour. */
export interface Forecast {
  /** Wall-clock start of the first forecast hour, i.e. the end of the history. */
  start: number;
  /** Expected total per hour. */
  mean: number[];
  /** Upper bound per hour that the total should stay under 90% of the time. */
  p90: number[];
  /** The point model behind `mean` (for `auto`, the one it picked at this origin; `mean(a, b)` for a mean of several). */
  model: string;
  /** The replayed backtest on the series' own recent history that the p90 (and `auto`'s pick) came from. */
  backtest?: ReplayScore;
}

/**
 * The rolling-origin backtest replayed on the series' own past at a forecast's origin:
 * first-day (24 h) forecasts from each of the last days, scored against the actuals.
 */
export interface ReplayScore {
  /** wMAPE of `model`'s replayed first-day hours; NaN without any. */
  wmape: number;
  /** Past origins replayed. */
  days: number;
  /** Replayed first-day hours with an actual. */
  hours: number;
  /** `auto` only: every candidate's replayed wMAPE (Infinity without replays). */
  candidates?: { model: string; wmape: number }[];
}

/**
 * A complete forecaster: bridges missing hours, fits, forecasts and bounds.
 * `forecast` sees only `history` (hours before the origin, NaN = missing); it is pure and may
 * run concurrently. Models built with a shared memo must only ever see one series.
 */
export interface ForecastModel {
  readonly name: string;
  forecast(history: HourlySeries, horizon: number): Forecast;
}

/**
 * Cache of point forecasts keyed by model, history span and horizon. A rolling-origin
 * backtest refits the same model on the same span many times; the memo makes that once.
 * Only share a memo between forecasts of one series.
 */
export type ForecastMemo = Map<string, number[]>;

export function createForecastMemo(): ForecastMemo {
  return new Map();
}
