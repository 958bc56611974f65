import { StrataError } from "../lib/errors.js";
import type { Forecast } from "./model.js";
import { HOUR_MS } from "./series.js";

/**
 * A known event that multiplies the forecast over a window: a campaign, a TV spot, a
 * maintenance window (factor < 1). Times are wall-clock ms like the forecast's.
 */
export interface KnownEvent {
  /** First affected instant (inclusive). */
  from: number;
  /** End of the window (exclusive). */
  to: number;
  /** Multiplier of the mean and the p90 bound; at least 0. */
  factor: number;
  name?: string;
}

/**
 * Returns a copy of `forecast` with every hour that starts inside an event's window
 * multiplied by its factor (overlapping events multiply). Pure; rejects malformed events.
 */
export function applyEvents(forecast: Forecast, events: readonly KnownEvent[]): Forecast {
  for (const e of events) {
    const label = e.name ? `"${e.name}"` : `${new Date(e.from).toISOString()}`;
    if (!Number.isFinite(e.factor) || e.factor < 0) {
      throw new StrataError(
        "bad_request",
        `[forecast] event ${label}: factor must be a number >= 0 (got ${e.factor})`,
      );
    }
    if (!Number.isFinite(e.from) || !Number.isFinite(e.to) || e.to <= e.from) {
      throw new StrataError("bad_request", `[forecast] event ${label}: "to" must be after "from"`);
    }
  }
  const multiplier = forecast.mean.map((_, i) => {
    const t = forecast.start + i * HOUR_MS;
    return events.reduce((m, e) => (t >= e.from && t < e.to ? m * e.factor : m), 1);
  });
  return {
    ...forecast,
    mean: forecast.mean.map((v, i) => v * (multiplier[i] as number)),
    p90: forecast.p90.map((v, i) => v * (multiplier[i] as number)),
  };
}
