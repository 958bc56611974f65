import type { PointModel } from "../model.js";
import { nelderMead } from "../optimize.js";
import { DAY_HOURS, WEEK_HOURS } from "../series.js";
import { repeatLastDay } from "./profile.js";

/** Options of {@link createDshwModel}. */
export interface DshwOptions {
  /** Registry name. @default "dshw" */
  name?: string;
  /** Objective evaluations for fitting the smoothing parameters. @default 150 */
  maxEvaluations?: number;
}

/** Smoothing parameters of {@link dshwFilter}, each in [0, 1]. */
export interface DshwParams {
  /** Level. */
  alpha: number;
  /** Daily seasonal indices. */
  delta: number;
  /** Weekly seasonal indices. */
  omega: number;
  /** AR(1) adjustment of the one-step error. */
  phi: number;
}

/** Final state of the filter: enough to forecast any horizon. */
export interface DshwState {
  level: number;
  /** Daily indices for the next 24 hours, in order. */
  daily: number[];
  /** Weekly indices for the next 168 hours, in order. */
  weekly: number[];
  /** Last one-step error. */
  error: number;
  sse: number;
}

/**
 * Double seasonal Holt-Winters with multiplicative daily and weekly cycles and an AR(1)
 * error adjustment (J. W. Taylor, "Short-term electricity demand forecasting using double
 * seasonal exponential smoothing", JORS 54, 2003), without the trend term: a level drift over
 * eight weeks of hourly traffic is better left to the level. Parameters minimise the one-step
 * squared error (Nelder–Mead on logit scale).
 */
export function createDshwModel(options: DshwOptions = {}): PointModel {
  const maxEvaluations = options.maxEvaluations ?? 150;
  return {
    name: options.name ?? "dshw",
    description: "double seasonal Holt-Winters (Taylor 2003), multiplicative, AR(1) error",
    predict(history, horizon) {
      const y = history.values;
      if (y.length < 2 * WEEK_HOURS) return repeatLastDay(y, horizon);
      const logistic = (z: number) => 1 / (1 + Math.exp(-z));
      const toParams = (x: number[]): DshwParams => ({
        alpha: logistic(x[0] as number),
        delta: logistic(x[1] as number),
        omega: logistic(x[2] as number),
        phi: logistic(x[3] as number),
      });
      const logit = (p: number) => Math.log(p / (1 - p));
      const fit = nelderMead(
        (x) => dshwFilter(y, toParams(x)).sse,
        [logit(0.05), logit(0.1), logit(0.1), logit(0.5)],
        {
          maxEvaluations,
          step: 1,
        },
      );
      return dshwForecast(dshwFilter(y, toParams(fit.x)), toParams(fit.x).phi, horizon);
    },
  };
}

/** Runs the filter over `y` (at least two weeks, no NaN) and returns its final state. */
export function dshwFilter(y: readonly number[], p: DshwParams): DshwState {
  const n = y.length;
  const { level: l0, daily, weekly } = dshwInit(y);
  let level = l0;
  let error = 0;
  let sse = 0;
  const d = [...daily];
  const w = [...weekly];
  for (let t = 0; t < n; t++) {
    const di = t % DAY_HOURS;
    const wi = t % WEEK_HOURS;
    const dt = d[di] as number;
    const wt = w[wi] as number;
    const base = level * dt * wt;
    const yt = y[t] as number;
    const e = yt - base - p.phi * error;
    // The first week only initialises the indices; score the rest.
    if (t >= WEEK_HOURS) sse += e * e;
    error = yt - base;
    const newLevel = p.alpha * (yt / Math.max(dt * wt, 1e-9)) + (1 - p.alpha) * level;
    const safeLevel = Math.max(newLevel, 1e-9);
    d[di] = p.delta * (yt / (safeLevel * wt)) + (1 - p.delta) * dt;
    w[wi] = p.omega * (yt / (safeLevel * dt)) + (1 - p.omega) * wt;
    level = newLevel;
  }
  const rot = <T>(a: T[], k: number) => [...a.slice(k), ...a.slice(0, k)];
  return { level, daily: rot(d, n % DAY_HOURS), weekly: rot(w, n % WEEK_HOURS), error, sse };
}

export function dshwForecast(state: DshwState, phi: number, horizon: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < horizon; k++) {
    const base =
      state.level *
      (state.daily[k % DAY_HOURS] as number) *
      (state.weekly[k % WEEK_HOURS] as number);
    out.push(Math.max(0, base + Math.pow(phi, k + 1) * state.error));
  }
  return out;
}

/** Start values from the first two weeks: level = first week's mean, indices = ratios. */
function dshwInit(y: readonly number[]): { level: number; daily: number[]; weekly: number[] } {
  const weekMean = (j: number) => {
    let s = 0;
    for (let i = 0; i < WEEK_HOURS; i++) s += y[j * WEEK_HOURS + i] as number;
    return s / WEEK_HOURS || 1;
  };
  const m0 = weekMean(0);
  const m1 = weekMean(1);
  const daily = new Array<number>(DAY_HOURS).fill(0);
  for (let i = 0; i < 2 * WEEK_HOURS; i++)
    daily[i % DAY_HOURS] =
      (daily[i % DAY_HOURS] as number) + (y[i] as number) / (i < WEEK_HOURS ? m0 : m1) / 14;
  const dMean = daily.reduce((a, b) => a + b, 0) / DAY_HOURS || 1;
  for (let h = 0; h < DAY_HOURS; h++) daily[h] = Math.max((daily[h] as number) / dMean, 1e-3);
  const weekly = new Array<number>(WEEK_HOURS).fill(0);
  for (let i = 0; i < 2 * WEEK_HOURS; i++) {
    weekly[i % WEEK_HOURS] =
      (weekly[i % WEEK_HOURS] as number) +
      (y[i] as number) / ((i < WEEK_HOURS ? m0 : m1) * (daily[i % DAY_HOURS] as number)) / 2;
  }
  for (let i = 0; i < WEEK_HOURS; i++) weekly[i] = Math.max(weekly[i] as number, 1e-3);
  return { level: m0, daily, weekly };
}
