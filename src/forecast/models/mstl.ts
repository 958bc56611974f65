import type { PointModel } from "../model.js";
import { nelderMead } from "../optimize.js";
import { DAY_HOURS, mean, WEEK_HOURS } from "../series.js";
import { repeatLastDay } from "./profile.js";

/** Options of {@link createMstlModel}. */
export interface MstlOptions {
  /** Registry name. @default "mstl" */
  name?: string;
  /** The weekly period is used only with at least this many hours of history. @default 336 (2 weeks) */
  weeklyMinHours?: number;
  /** Cycles each seasonal value is averaged over, per period (as R's `mstl` s.window 11, 15). @default [11, 15] */
  seasonalCycles?: [number, number];
  /**
   * Hours of the centred moving average taken as the trend. @default STL's rule for the
   * longest period P used: the odd number above 1.5 P / (1 - 1.5 / its seasonal cycles)
   * (43 h with the daily period alone, 281 h with the weekly one)
   */
  trendHours?: number;
  /** Decomposition passes. @default 3 */
  iterations?: number;
  /** Offset of the log transform, as a share of the history's mean. @default 0.05 */
  logOffset?: number;
}

/** The decomposition of a series: seasonal components (one per period) and the rest. */
export interface Decomposition {
  periods: number[];
  /** One component per period, each as long as the series. */
  seasonals: number[][];
  trend: number[];
  /** The series minus every seasonal component (trend + remainder). */
  adjusted: number[];
}

/**
 * MSTL-style decomposition (Bandara, Hyndman & Bergmeir 2021, simplified): seasonal
 * components of the given periods, each the cycle-subseries mean over `cycles` cycles
 * centred on the value (fewer at the ends) of the series minus the trend and the other
 * components, then centred; the trend a centred moving average; repeated `iterations` times.
 */
export function decompose(
  y: readonly number[],
  periods: readonly number[],
  options: { cycles: readonly number[]; trendHours: number; iterations: number },
): Decomposition {
  const n = y.length;
  const seasonals = periods.map(() => new Array<number>(n).fill(0));
  let trend = movingAverage(y, options.trendHours);
  for (let pass = 0; pass < options.iterations; pass++) {
    periods.forEach((period, j) => {
      const others = y.map((v, t) => {
        let s = v - (trend[t] as number);
        seasonals.forEach((c, k) => (k !== j ? (s -= c[t] as number) : undefined));
        return s;
      });
      seasonals[j] = cycleMeans(others, period, options.cycles[j] ?? 11);
    });
    trend = movingAverage(
      y.map((v, t) => v - seasonals.reduce((s, c) => s + (c[t] as number), 0)),
      options.trendHours,
    );
  }
  const adjusted = y.map((v, t) => v - seasonals.reduce((s, c) => s + (c[t] as number), 0));
  return { periods: [...periods], seasonals, trend, adjusted };
}

/** Each value: mean of the same phase over `cycles` cycles centred on it; then centred to mean 0 per cycle. */
function cycleMeans(x: readonly number[], period: number, cycles: number): number[] {
  const n = x.length;
  const half = Math.floor(cycles / 2);
  const out = new Array<number>(n).fill(0);
  for (let t = 0; t < n; t++) {
    let sum = 0;
    let count = 0;
    for (let c = -half; c <= half; c++) {
      const i = t + c * period;
      if (i < 0 || i >= n) continue;
      sum += x[i] as number;
      count++;
    }
    out[t] = sum / count;
  }
  // Centre: take out the component's own level, the mean over a whole period around each
  // value (shifted inwards at the ends, so that the last cycle keeps its shape).
  const prefix = [0];
  for (const v of out) prefix.push((prefix[prefix.length - 1] as number) + v);
  const width = Math.min(period, n);
  return out.map((v, t) => {
    const a = Math.min(Math.max(0, t - Math.floor(width / 2)), n - width);
    return v - ((prefix[a + width] as number) - (prefix[a] as number)) / width;
  });
}

function oddAbove(x: number): number {
  const c = Math.ceil(x);
  return c % 2 === 1 ? c : c + 1;
}

/** Centred moving average of `width` values (fewer at the ends). */
export function movingAverage(x: readonly number[], width: number): number[] {
  const n = x.length;
  const before = Math.floor((width - 1) / 2);
  const after = width - 1 - before;
  const prefix = [0];
  for (const v of x) prefix.push((prefix[prefix.length - 1] as number) + v);
  return x.map((_, t) => {
    const a = Math.max(0, t - before);
    const b = Math.min(n, t + after + 1);
    return ((prefix[b] as number) - (prefix[a] as number)) / (b - a);
  });
}

/** An exponential smoothing fit of a non-seasonal series: ETS(A,N,N) or ETS(A,Ad,N), by AIC. */
export interface LevelFit {
  kind: "ANN" | "AAdN";
  level: number;
  slope: number;
  /** Damping of the slope (0 for ANN). */
  phi: number;
  aic: number;
}

/** Fits ETS(A,N,N) and ETS(A,Ad,N) to `y` by one-step squared error and keeps the lower AIC. */
export function fitLevel(y: readonly number[]): LevelFit {
  const n = y.length;
  const l0 = mean(y.slice(0, Math.min(n, DAY_HOURS)));
  const logistic = (z: number) => 1 / (1 + Math.exp(-z));
  const run = (alpha: number, beta: number, phi: number) => {
    let level = l0;
    let slope = 0;
    let sse = 0;
    for (const v of y) {
      const f = level + phi * slope;
      const e = v - f;
      sse += e * e;
      level = f + alpha * e;
      slope = phi * slope + beta * e;
    }
    return { level, slope, sse };
  };
  const aic = (sse: number, k: number) => n * Math.log(Math.max(sse / n, 1e-300)) + 2 * k;
  const simple = nelderMead((x) => run(logistic(x[0] as number), 0, 0).sse, [0], {
    maxEvaluations: 60,
    step: 1,
  });
  const alphaSimple = logistic(simple.x[0] as number);
  const ann = run(alphaSimple, 0, 0);
  const best: LevelFit = { kind: "ANN", level: ann.level, slope: 0, phi: 0, aic: aic(ann.sse, 2) };
  // Damped trend: alpha, beta = alpha * b, phi in [0.8, 0.98] (the usual bounds).
  const damped = (x: number[]) => {
    const alpha = logistic(x[0] as number);
    return {
      alpha,
      beta: alpha * logistic(x[1] as number),
      phi: 0.8 + 0.18 * logistic(x[2] as number),
    };
  };
  const fit = nelderMead(
    (x) => {
      const p = damped(x);
      return run(p.alpha, p.beta, p.phi).sse;
    },
    [simple.x[0] as number, -3, 1],
    { maxEvaluations: 150, step: 1 },
  );
  const p = damped(fit.x);
  const trended = run(p.alpha, p.beta, p.phi);
  const trendedAic = aic(trended.sse, 5);
  if (trendedAic < best.aic) {
    return {
      kind: "AAdN",
      level: trended.level,
      slope: trended.slope,
      phi: p.phi,
      aic: trendedAic,
    };
  }
  return best;
}

/** The level fit's forecast `h` steps ahead (h = 1 is the next hour). */
export function levelForecast(fit: LevelFit, h: number): number {
  if (fit.kind === "ANN") return fit.level;
  let damp = 0;
  let power = 1;
  for (let i = 1; i <= h; i++) {
    power *= fit.phi;
    damp += power;
  }
  return fit.level + damp * fit.slope;
}

/**
 * MSTL + ETS, as R's `stlf`/`mstl` forecasts: decompose log(x + offset) into daily and
 * weekly seasonal components (weekly only with two weeks of history), forecast the
 * seasonally adjusted series with ETS (no trend or damped trend, by AIC), and add each
 * component's last cycle back. Works from two days of history.
 */
export function createMstlModel(options: MstlOptions = {}): PointModel {
  const cycles = options.seasonalCycles ?? [11, 15];
  const iterations = options.iterations ?? 3;
  return {
    name: options.name ?? "mstl",
    description: "MSTL decomposition (24 h, 168 h) on log scale, ETS on the adjusted series",
    predict(history, horizon) {
      const v = history.values;
      const n = v.length;
      if (n < 2 * DAY_HOURS || !(mean(v) > 0)) return repeatLastDay(v, horizon);
      const periods =
        n >= (options.weeklyMinHours ?? 2 * WEEK_HOURS) ? [DAY_HOURS, WEEK_HOURS] : [DAY_HOURS];
      const offset = Math.max((options.logOffset ?? 0.05) * mean(v), 1e-9);
      const y = v.map((x) => Math.log(Math.max(0, x) + offset));
      const longest = periods.length - 1;
      const trendHours =
        options.trendHours ??
        oddAbove((1.5 * (periods[longest] as number)) / (1 - 1.5 / (cycles[longest] as number)));
      const parts = decompose(y, periods, { cycles, trendHours, iterations });
      const level = fitLevel(parts.adjusted);
      return Array.from({ length: horizon }, (_, h) => {
        let log = levelForecast(level, h + 1);
        parts.periods.forEach((period, j) => {
          const last = n + h - period * (Math.floor(h / period) + 1);
          log += (parts.seasonals[j] as number[])[last] as number;
        });
        return Math.max(0, Math.exp(log) - offset);
      });
    },
  };
}
