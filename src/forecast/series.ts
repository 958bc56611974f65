/**
 * Hourly series as the forecasting code sees them. Times are wall-clock ms: the clock
 * reading as written in the source, taken as if it were UTC, so days and hours of day
 * follow the timestamps as written (`1995-07-01 00:00:00-04:00` starts a day).
 */
export const HOUR_MS = 3_600_000;
export const DAY_HOURS = 24;
export const WEEK_HOURS = 168;

/** Hourly totals; hour `i` starts at `start + i * HOUR_MS`. NaN marks a missing hour. */
export interface HourlySeries {
  /** Wall-clock start of the first hour, hour-aligned. */
  readonly start: number;
  readonly values: readonly number[];
}

/** Day of week of a wall-clock time, Monday = 0 ... Sunday = 6. */
export function dayOfWeek(wall: number): number {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  return (((Math.floor(wall / 86_400_000) + 3) % 7) + 7) % 7;
}

export function hourOfDay(wall: number): number {
  return ((Math.floor(wall / HOUR_MS) % 24) + 24) % 24;
}

/** Monday 00:00 = 0 ... Sunday 23:00 = 167. */
export function hourOfWeek(wall: number): number {
  return dayOfWeek(wall) * 24 + hourOfDay(wall);
}

/** Wall-clock start of hour `i` of a series. */
export function timeAt(series: HourlySeries, i: number): number {
  return series.start + i * HOUR_MS;
}

/** Hours `[from, to)` of a series as a series of its own. */
export function sliceSeries(series: HourlySeries, from: number, to: number): HourlySeries {
  const a = Math.max(0, from);
  return { start: series.start + a * HOUR_MS, values: series.values.slice(a, Math.max(a, to)) };
}

/** The last `hours` hours of a series (all of it when shorter). */
export function tail(series: HourlySeries, hours: number): HourlySeries {
  return sliceSeries(series, series.values.length - hours, series.values.length);
}

/** Index of the first hour of a series that starts a day (00:00), possibly past its end. */
export function firstMidnight(series: HourlySeries): number {
  return (24 - hourOfDay(series.start)) % 24;
}

/**
 * Bridges missing hours for training: each NaN becomes the median of the same hour of week
 * in the series (else the same hour of day, else the median of everything, else 0).
 * A missing stretch then looks like a typical week, not like zero traffic or a straight line.
 */
export function bridgeMissing(series: HourlySeries): number[] {
  const v = series.values;
  if (!v.some(Number.isNaN)) return [...v];
  const byWeek: number[][] = Array.from({ length: WEEK_HOURS }, () => []);
  const byDay: number[][] = Array.from({ length: DAY_HOURS }, () => []);
  const all: number[] = [];
  v.forEach((x, i) => {
    if (Number.isNaN(x)) return;
    const how = hourOfWeek(timeAt(series, i));
    byWeek[how]?.push(x);
    byDay[how % 24]?.push(x);
    all.push(x);
  });
  const overall = all.length ? median(all) : 0;
  const week = byWeek.map((xs) => (xs.length ? median(xs) : NaN));
  const day = byDay.map((xs) => (xs.length ? median(xs) : NaN));
  return v.map((x, i) => {
    if (!Number.isNaN(x)) return x;
    const how = hourOfWeek(timeAt(series, i));
    const w = week[how] as number;
    if (!Number.isNaN(w)) return w;
    const d = day[how % 24] as number;
    return Number.isNaN(d) ? overall : d;
  });
}

/** Median of the finite values; NaN when there are none. */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (type 7, as R's default) of the finite values. */
export function quantile(xs: readonly number[], q: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** Mean after dropping the lowest and highest `trim` share of values. */
export function trimmedMean(xs: readonly number[], trim: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const k = Math.min(Math.floor(s.length * trim), Math.floor((s.length - 1) / 2));
  const kept = s.slice(k, s.length - k);
  return kept.reduce((a, b) => a + b, 0) / kept.length;
}

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
