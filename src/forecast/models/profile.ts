import type { PointModel } from "../model.js";
import type { HourlySeries } from "../series.js";
import {
  DAY_HOURS,
  dayOfWeek,
  firstMidnight,
  HOUR_MS,
  hourOfDay,
  mean,
  median,
  trimmedMean,
} from "../series.js";

/** Options of {@link createProfileModel}. */
export interface ProfileOptions {
  /** Registry name. @default "profile" */
  name?: string;
  /** Recent days of the same kind (weekday or weekend) whose median shape is the intraday profile. @default 7 */
  shapeDays?: number;
  /**
   * Share of a day's hourly level estimates dropped at each end before averaging them into
   * the day's level, so that a few spiking hours do not move the level. @default 0.25
   */
  trim?: number;
  /** Exponential smoothing of the day level (1 = the last day's level only). @default 1 */
  alpha?: number;
  /** Recent days from which the weekend/weekday level ratio is estimated. @default 21 */
  factorDays?: number;
  /** Days of week (Monday = 0) that form the weekend. @default [5, 6] */
  weekendDays?: number[];
}

/**
 * Day level × intraday profile, both robust. Each past day gets a level: the trimmed mean of
 * its hours divided by the profile of its kind (so match-day spikes barely move it). The next
 * days' level is the smoothed weekday-equivalent level times the weekend or weekday factor
 * (median ratio to the trailing week over the last `factorDays`); the hours follow the median
 * shape of the last `shapeDays` days of the same kind. Works on calendar days of the history,
 * so it is meant for origins at midnight (a partial day at the end is ignored).
 */
export function createProfileModel(options: ProfileOptions = {}): PointModel {
  const shapeDays = options.shapeDays ?? 7;
  const trim = options.trim ?? 0.25;
  const alpha = options.alpha ?? 1;
  const factorDays = options.factorDays ?? 21;
  const weekend = new Set(options.weekendDays ?? [5, 6]);
  const name = options.name ?? "profile";
  return {
    name,
    description: `robust day level (alpha ${alpha}) x weekday/weekend factor x median shape of ${shapeDays} days`,
    predict: (history, horizon) =>
      predictProfile(history, horizon, { shapeDays, trim, alpha, factorDays, weekend }),
  };
}

interface Settings {
  shapeDays: number;
  trim: number;
  alpha: number;
  factorDays: number;
  weekend: Set<number>;
}

function predictProfile(history: HourlySeries, horizon: number, o: Settings): number[] {
  const v = history.values;
  const n = v.length;
  const first = firstMidnight(history);
  const D = Math.max(0, Math.floor((n - first) / DAY_HOURS));
  const end = history.start + n * HOUR_MS;
  if (D < 2) return repeatLastDay(v, horizon);

  const days: number[][] = [];
  for (let d = 0; d < D; d++)
    days.push(v.slice(first + d * DAY_HOURS, first + (d + 1) * DAY_HOURS) as number[]);
  const dayStart = (d: number) => history.start + (first + d * DAY_HOURS) * HOUR_MS;
  const kind = days.map((_, d) => (o.weekend.has(dayOfWeek(dayStart(d))) ? 1 : 0));
  const totals = days.map((day) => day.reduce((a, b) => a + b, 0));

  // Median normalised shape of up to shapeDays days of kind k among days [0, upTo).
  const shapeOf = (upTo: number, k: number): number[] => {
    let picked: number[] = [];
    for (let d = upTo - 1; d >= 0 && picked.length < o.shapeDays; d--) {
      if (kind[d] === k && (totals[d] as number) > 0) picked.push(d);
    }
    if (picked.length === 0) {
      for (let d = upTo - 1; d >= 0 && picked.length < o.shapeDays; d--)
        if ((totals[d] as number) > 0) picked.push(d);
    }
    if (picked.length === 0) picked = [upTo - 1];
    const s = Array.from({ length: DAY_HOURS }, (_, h) =>
      median(
        picked.map((d) => ((days[d] as number[])[h] as number) / ((totals[d] as number) || 1)),
      ),
    );
    const sum = s.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    return s.map((x) => (sum > 0 && Number.isFinite(x) ? x / sum : 1 / DAY_HOURS));
  };

  const level = days.map((day, d) => {
    const shape = shapeOf(d + 1, kind[d] as number);
    const ratios: number[] = [];
    day.forEach((y, h) => {
      const s = shape[h] as number;
      if (s > 0) ratios.push(y / s);
    });
    const l = trimmedMean(ratios, o.trim);
    return Number.isFinite(l) ? l : (totals[d] as number);
  });

  // Weekend factor relative to weekdays from the ratio of each day to its trailing week.
  const factor = [1, 1];
  const byKind: number[][] = [[], []];
  for (let d = Math.max(7, D - o.factorDays); d < D; d++) {
    const trailing = mean(level.slice(d - 7, d));
    if (trailing > 0) byKind[kind[d] as number]?.push((level[d] as number) / trailing);
  }
  const weekdayRatio = median(byKind[0] as number[]);
  const weekendRatio = median(byKind[1] as number[]);
  if (Number.isFinite(weekdayRatio) && Number.isFinite(weekendRatio) && weekdayRatio > 0) {
    const nWeekend = o.weekend.size;
    const norm = ((7 - nWeekend) * weekdayRatio + nWeekend * weekendRatio) / 7;
    factor[0] = weekdayRatio / norm;
    factor[1] = weekendRatio / norm;
  }

  let smoothed = (level[0] as number) / (factor[kind[0] as number] as number);
  for (let d = 1; d < D; d++) {
    const x = (level[d] as number) / (factor[kind[d] as number] as number);
    smoothed = o.alpha * x + (1 - o.alpha) * smoothed;
  }
  const shapes = [shapeOf(D, 0), shapeOf(D, 1)];
  const out: number[] = [];
  for (let h = 0; h < horizon; h++) {
    const t = end + h * HOUR_MS;
    const k = o.weekend.has(dayOfWeek(t)) ? 1 : 0;
    const f = smoothed * (factor[k] as number) * ((shapes[k] as number[])[hourOfDay(t)] as number);
    out.push(Number.isFinite(f) && f > 0 ? f : 0);
  }
  return out;
}

/** Fallback for histories shorter than two whole days. */
export function repeatLastDay(values: readonly number[], horizon: number): number[] {
  const n = values.length;
  const p = Math.min(n, DAY_HOURS);
  return Array.from({ length: horizon }, (_, h) =>
    p === 0 ? 0 : (values[n - p + (h % p)] as number),
  );
}
