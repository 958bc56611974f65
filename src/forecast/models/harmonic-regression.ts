import { fitAutoregression, leastSquares } from "../least-squares.js";
import type { PointModel } from "../model.js";
import { DAY_HOURS, hourOfDay, hourOfWeek, HOUR_MS, mean, median, WEEK_HOURS } from "../series.js";
import { repeatLastDay } from "./profile.js";

/** Options of {@link createHarmonicRegression}. */
export interface HarmonicRegressionOptions {
  /** Registry name. @default "dhr" */
  name?: string;
  /** Sine/cosine pairs of the daily cycle (at most 11). @default 8 */
  dailyPairs?: number;
  /** Sine/cosine pairs of the weekly cycle (at most 6, so none repeats a daily one). @default 6 */
  weeklyPairs?: number;
  /** Weekly terms are used only with at least this many hours of history. @default 336 (2 weeks) */
  weeklyMinHours?: number;
  /** Largest AR order tried for the regression errors (chosen by AIC). @default 5 */
  maxArOrder?: number;
  /** Offset of the log transform, as a share of the history's mean. @default 0.05 */
  logOffset?: number;
  /** Huber reweighting passes of the regression (0 = plain least squares). @default 3 */
  robustPasses?: number;
}

/** A fitted dynamic harmonic regression: enough to forecast any horizon. */
export interface HarmonicFit {
  /** Regression coefficients: intercept, then daily, then weekly (sin, cos) pairs. */
  beta: number[];
  /** AR coefficients of the errors, lag 1 first. */
  ar: number[];
  /** Errors of the regression (log scale), oldest first. */
  residuals: number[];
  dailyPairs: number;
  weeklyPairs: number;
  /** Added before the log. */
  offset: number;
}

/** The design row of the hour starting at wall-clock `wall`. */
export function harmonicRow(wall: number, dailyPairs: number, weeklyPairs: number): number[] {
  const row = [1];
  const d = (2 * Math.PI * hourOfDay(wall)) / DAY_HOURS;
  for (let k = 1; k <= dailyPairs; k++) row.push(Math.sin(k * d), Math.cos(k * d));
  const w = (2 * Math.PI * hourOfWeek(wall)) / WEEK_HOURS;
  for (let k = 1; k <= weeklyPairs; k++) row.push(Math.sin(k * w), Math.cos(k * w));
  return row;
}

/**
 * Fits log(x + offset) = Fourier terms of the daily and weekly cycles + AR(p) errors, p by
 * AIC (conditional least squares on the regression residuals, a two-step approximation of
 * regression with ARIMA errors).
 */
export function fitHarmonicRegression(
  start: number,
  values: readonly number[],
  options: HarmonicRegressionOptions = {},
): HarmonicFit {
  const n = values.length;
  const dailyPairs = Math.min(options.dailyPairs ?? 8, 11);
  const weeklyPairs =
    n >= (options.weeklyMinHours ?? 2 * WEEK_HOURS) ? Math.min(options.weeklyPairs ?? 6, 6) : 0;
  const offset = Math.max((options.logOffset ?? 0.05) * mean(values), 1e-9);
  const y = values.map((v) => Math.log(Math.max(0, v) + offset));
  const rows = values.map((_, i) => harmonicRow(start + i * HOUR_MS, dailyPairs, weeklyPairs));
  let beta = leastSquares(rows, y);
  let residuals = y.map((yt, i) => yt - dot(rows[i] as number[], beta));
  // Huber IRLS: a news burst or a match day must not bend the daily and weekly shape.
  for (let pass = 0; pass < (options.robustPasses ?? 3); pass++) {
    const scale = 1.4826 * median(residuals.map(Math.abs)) || 1e-9;
    const k = 1.345 * scale;
    const weights = residuals.map((r) => (Math.abs(r) <= k ? 1 : k / Math.abs(r)));
    beta = leastSquares(rows, y, 1e-8, weights);
    residuals = y.map((yt, i) => yt - dot(rows[i] as number[], beta));
  }
  const maxP = Math.min(options.maxArOrder ?? 5, Math.floor(n / 10));
  let best = { ar: [] as number[], aic: Infinity };
  for (let p = 0; p <= maxP; p++) {
    const fit = fitAutoregression(residuals, p, maxP);
    const aic = fit.rows * Math.log(Math.max(fit.variance, 1e-300)) + 2 * p;
    if (aic < best.aic) best = { ar: fit.coefficients, aic };
  }
  return { beta, ar: best.ar, residuals, dailyPairs, weeklyPairs, offset };
}

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Forecasts `horizon` hours after a fit made on hours starting at `start`. */
export function forecastHarmonic(fit: HarmonicFit, start: number, horizon: number): number[] {
  const n = fit.residuals.length;
  const bound = Math.max(...fit.residuals.map(Math.abs), 0);
  const e = [...fit.residuals];
  const out: number[] = [];
  for (let h = 0; h < horizon; h++) {
    let r = 0;
    for (let k = 0; k < fit.ar.length; k++) r += (fit.ar[k] as number) * (e[n + h - 1 - k] ?? 0);
    // A near-explosive AR fit must not run away over a two-day horizon.
    r = Math.max(-bound, Math.min(bound, r));
    e.push(r);
    const wall = start + (n + h) * HOUR_MS;
    const log = dot(harmonicRow(wall, fit.dailyPairs, fit.weeklyPairs), fit.beta) + r;
    out.push(Math.max(0, Math.exp(log) - fit.offset));
  }
  return out;
}

/**
 * Dynamic harmonic regression: Fourier terms for the daily and weekly cycles on the log
 * scale with AR errors (the family of R's `auto.arima(xreg = fourier(...))`). It needs no
 * full cycle of each period: with under two weeks the weekly terms are dropped, so it
 * works from a few days. The back-transform is the median, which suits an absolute-error
 * score.
 */
export function createHarmonicRegression(options: HarmonicRegressionOptions = {}): PointModel {
  return {
    name: options.name ?? "dhr",
    description: "Fourier terms (8 daily, 6 weekly pairs) on log scale with AR(p) errors",
    predict(history, horizon) {
      const v = history.values;
      if (v.length < 2 * DAY_HOURS || !(mean(v) > 0)) return repeatLastDay(v, horizon);
      return forecastHarmonic(
        fitHarmonicRegression(history.start, v, options),
        history.start,
        horizon,
      );
    },
  };
}
