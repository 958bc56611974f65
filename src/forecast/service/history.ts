import type { Forecast } from "../model.js";
import { HOUR_MS, type HourlySeries } from "../series.js";
import type { Zone } from "./zone.js";

/** An app's stored hourly totals, turned into the wall-clock series the models expect. */
export interface WallHistory {
  /** Local hours of the zone, oldest first, ending just before the origin's local hour; NaN = missing. */
  series: HourlySeries;
  /** First UTC hour with data; null when there is none. */
  from: number | null;
  /** UTC hours with data. */
  hoursWithData: number;
  /** UTC hours without data from `from` to the origin. */
  missingHours: number;
}

const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** Start of the local hour that holds `utc`, as wall-clock ms (for +05:30, 10:00Z is 15:00). */
export function wallHour(zone: Zone, utc: number): number {
  return floorHour(zone.wall(utc));
}

/**
 * Lays UTC hourly totals (`hour` a whole UTC hour, absent = no data) on the zone's local
 * hours, from the first hour with data up to `origin` (exclusive). The models find days and
 * hours of day on this clock. Where DST repeats a local hour it holds the mean of its two UTC
 * hours (a rate, like every other hour); a local hour DST skips is missing.
 */
export function wallHistory(
  hours: readonly { hour: number; total: number }[],
  origin: number,
  zone: Zone,
): WallHistory {
  const data = new Map<number, number>();
  for (const h of hours) if (h.hour < origin) data.set(h.hour, h.total);
  const first = data.size ? Math.min(...data.keys()) : null;
  const end = wallHour(zone, origin);
  if (first === null)
    return { series: { start: end, values: [] }, from: null, hoursWithData: 0, missingHours: 0 };

  const sums = new Map<number, { sum: number; n: number }>();
  let missing = 0;
  for (let u = first; u < origin; u += HOUR_MS) {
    const total = data.get(u);
    if (total === undefined) missing++;
    const w = wallHour(zone, u);
    if (w >= end) continue;
    const slot = sums.get(w) ?? { sum: 0, n: 0 };
    if (total !== undefined) {
      slot.sum += total;
      slot.n++;
    }
    sums.set(w, slot);
  }
  const start = wallHour(zone, first);
  const values: number[] = [];
  for (let w = start; w < end; w += HOUR_MS) {
    const slot = sums.get(w);
    values.push(slot && slot.n > 0 ? slot.sum / slot.n : NaN);
  }
  return {
    series: { start, values },
    from: first,
    hoursWithData: data.size,
    missingHours: missing,
  };
}

/** Local hours a forecast from `origin` needs to cover `horizon` UTC hours (one more across a DST gap). */
export function wallHorizon(origin: number, horizon: number, zone: Zone): number {
  return (wallHour(zone, origin + (horizon - 1) * HOUR_MS) - wallHour(zone, origin)) / HOUR_MS + 1;
}

/**
 * Reads a forecast made on local hours back onto the `horizon` UTC hours from `origin`: each
 * UTC hour takes its local hour's values, so both UTC hours of a repeated local hour get them.
 */
export function toUtcHours(
  forecast: Forecast,
  origin: number,
  horizon: number,
  zone: Zone,
): { mean: number[]; p90: number[] } {
  const mean: number[] = [];
  const p90: number[] = [];
  for (let i = 0; i < horizon; i++) {
    const k = (wallHour(zone, origin + i * HOUR_MS) - forecast.start) / HOUR_MS;
    mean.push(forecast.mean[k] ?? NaN);
    p90.push(forecast.p90[k] ?? NaN);
  }
  return { mean, p90 };
}
