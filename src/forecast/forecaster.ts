import { StrataError } from "../lib/errors.js";
import {
  memoPredict,
  recentErrors,
  replayedWmape,
  upperFactors,
  type ReplayedHour,
} from "./calibrate.js";
import type { Forecast, ForecastMemo, ForecastModel, PointModel } from "./model.js";
import type { HourlySeries } from "./series.js";
import { DAY_HOURS, hourOfDay, HOUR_MS, tail } from "./series.js";

/** Options shared by {@link createForecaster} and {@link createAutoModel}. */
export interface ForecasterOptions {
  /** Most recent hours of history a forecast uses. @default 1344 (8 weeks) */
  window?: number;
  /**
   * Past days replayed (rolling origin, one a day) to learn the p90 bound and, for `auto`,
   * to choose the model. Replays see `window - 24 * calibrationDays` hours each, so that
   * every replay lies inside the window. @default 21
   */
  calibrationDays?: number;
  /** Quantile of the upper bound. @default 0.9 */
  quantile?: number;
  /** Shared cache of point forecasts; only share it between forecasts of one series. */
  memo?: ForecastMemo;
}

interface Settings {
  window: number;
  days: number;
  quantile: number;
  memo: ForecastMemo | undefined;
}

function settings(options: ForecasterOptions): Settings {
  const window = options.window ?? 8 * 7 * DAY_HOURS;
  const days = Math.max(
    0,
    Math.min(options.calibrationDays ?? 21, Math.floor(window / DAY_HOURS) - 7),
  );
  return { window, days, quantile: options.quantile ?? 0.9, memo: options.memo };
}

/** Wraps a point model: last `window` hours, bridged, plus an empirical p90 from its own replayed errors. */
export function createForecaster(
  point: PointModel,
  options: ForecasterOptions = {},
): ForecastModel {
  const s = settings(options);
  return {
    name: point.name,
    forecast(history, horizon) {
      const h = tail(history, s.window);
      return bounded(point, h, horizon, s, recentErrors(point, h, replayOptions(s, horizon)));
    },
  };
}

/** Options of {@link createAutoModel}. */
export interface AutoOptions extends ForecasterOptions {
  /** Models to choose from (at least one). */
  candidates: PointModel[];
}

/**
 * `auto`: at each origin, replays every candidate over the last `calibrationDays` days of
 * the series' own history (only hours before the origin) and forecasts with the one of lowest
 * wMAPE on the first 24 hours of those replays; its replayed errors also give the p90.
 */
export function createAutoModel(options: AutoOptions): ForecastModel {
  const s = settings(options);
  if (options.candidates.length === 0)
    throw new StrataError("bad_request", "[forecast] auto: no candidate models");
  return {
    name: "auto",
    forecast(history, horizon) {
      const h = tail(history, s.window);
      let best: { model: PointModel; score: number; replays: ReplayedHour[] } | undefined;
      for (const model of options.candidates) {
        const replays = recentErrors(model, h, replayOptions(s, horizon));
        const score = replayedWmape(replays);
        if (!best || score < best.score) best = { model, score, replays };
      }
      const chosen = best as NonNullable<typeof best>;
      return bounded(chosen.model, h, horizon, s, chosen.replays);
    },
  };
}

function replayOptions(s: Settings, horizon: number) {
  return { days: s.days, window: s.window - s.days * DAY_HOURS, horizon, memo: s.memo };
}

function bounded(
  point: PointModel,
  history: HourlySeries,
  horizon: number,
  s: Settings,
  replays: ReplayedHour[],
): Forecast {
  const start = history.start + history.values.length * HOUR_MS;
  const mean = memoPredict(point, history, horizon, s.memo);
  const factors = upperFactors(replays, Math.ceil(horizon / DAY_HOURS), { quantile: s.quantile });
  const p90 = mean.map((m, i) => {
    const f = factors[Math.floor(i / DAY_HOURS)]?.[hourOfDay(start + i * HOUR_MS)] ?? 1;
    return m * f;
  });
  return { start, mean, p90, model: point.name };
}
