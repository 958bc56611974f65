import type { PointModel } from "./model.js";
import { DAY_HOURS, median } from "./series.js";

/** Options of {@link clipOutliers}. */
export interface ClipOptions {
  /** Robust standard deviations of the log ratio beyond which an hour is clipped. */
  k: number;
  /** Days on each side whose same hour of day forms an hour's reference. @default 3 */
  days?: number;
}

/**
 * Winsorises isolated outliers of a (bridged) hourly series for training, in the spirit of
 * R's `tsclean`: each hour is compared with the median of the same hour of day on itself and
 * up to `days` days on each side (at least three values, so that one outlier never moves its
 * neighbours' reference) on a log scale (offset 5% of the mean, as the
 * models' logs); an hour whose log ratio lies more than `k` robust standard deviations
 * (1.4826 × MAD of all ratios) from their median is pulled back to that bound. A burst or a
 * one-off spike then no longer teaches the models a level or a daily shape for the next
 * days; a pattern that repeats at the same hour on other days is its own reference and stays.
 * Pure: returns a new array.
 */
export function clipOutliers(values: readonly number[], options: ClipOptions): number[] {
  const n = values.length;
  const days = options.days ?? 3;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : 0;
  const c = Math.max(0.05 * mean, 1e-9);
  const logRatio: number[] = new Array<number>(n).fill(NaN);
  const reference: number[] = new Array<number>(n).fill(NaN);
  for (let t = 0; t < n; t++) {
    const xs: number[] = [];
    for (let d = -days; d <= days; d++) {
      const i = t + d * DAY_HOURS;
      if (i >= 0 && i < n) xs.push(values[i] as number);
    }
    if (xs.length < 3) continue;
    const m = median(xs);
    reference[t] = m;
    logRatio[t] = Math.log(((values[t] as number) + c) / (m + c));
  }
  const finite = logRatio.filter(Number.isFinite);
  if (finite.length === 0) return [...values];
  const centre = median(finite);
  const spread = 1.4826 * median(finite.map((e) => Math.abs(e - centre)));
  const lo = centre - options.k * spread;
  const hi = centre + options.k * spread;
  return values.map((x, t) => {
    const e = logRatio[t] as number;
    if (!Number.isFinite(e) || (e >= lo && e <= hi)) return x;
    const bound = e > hi ? hi : lo;
    return Math.max(0, ((reference[t] as number) + c) * Math.exp(bound) - c);
  });
}

/** A point model fitted on the history with its outliers clipped: same name, its own memo key. */
export function withClippedHistory(model: PointModel, options: ClipOptions): PointModel {
  return {
    name: model.name,
    memoKey: `${model.memoKey ?? model.name}~clip${options.k}`,
    description: `${model.description}, fitted on a history with outliers beyond ${options.k} robust sd clipped`,
    predict: (history, horizon) =>
      model.predict(
        { start: history.start, values: clipOutliers(history.values, options) },
        horizon,
      ),
  };
}
