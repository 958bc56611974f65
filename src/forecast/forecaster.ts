import { StrataError } from "../lib/errors.js";
import {
  memoPredict,
  recentErrors,
  replayedWmape,
  upperFactors,
  type ReplayedHour,
} from "./calibrate.js";
import { withClippedHistory } from "./clean.js";
import type { Forecast, ForecastMemo, ForecastModel, PointModel, ReplayScore } from "./model.js";
import type { HourlySeries } from "./series.js";
import { DAY_HOURS, hourOfDay, HOUR_MS, median, tail, trimmedMean } from "./series.js";

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
  /**
   * Models are fitted on the history with outliers beyond this many robust standard
   * deviations clipped (`clipOutliers`); 0 = as it is. Scores and bounds use the actuals. @default 0
   */
  clip?: number;
  /** Shared cache of point forecasts; only share it between forecasts of one series. */
  memo?: ForecastMemo;
}

interface Settings {
  window: number;
  days: number;
  quantile: number;
  clip: number;
  memo: ForecastMemo | undefined;
}

function settings(options: ForecasterOptions): Settings {
  const window = options.window ?? 8 * 7 * DAY_HOURS;
  const days = Math.max(
    0,
    Math.min(options.calibrationDays ?? 21, Math.floor(window / DAY_HOURS) - 7),
  );
  return {
    window,
    days,
    quantile: options.quantile ?? 0.9,
    clip: options.clip ?? 0,
    memo: options.memo,
  };
}

/** Wraps a point model: last `window` hours, bridged, plus an empirical p90 from its own replayed errors. */
export function createForecaster(
  model: PointModel,
  options: ForecasterOptions = {},
): ForecastModel {
  const s = settings(options);
  const point = clipped(model, s);
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
  /**
   * The equal-weight means of the best 1 .. `maxMembers` candidates are scored on their
   * replays too; a larger mean within this share of the lowest score is preferred to it
   * (0 = the lowest score wins). Chosen by leave-one-trace-out on the traces of
   * `../shared/data` (docs/forecast.md). @default 0.02
   */
  closeMargin?: number;
  /**
   * With fewer replayed days than this (a short history), the scores say too little to pick:
   * the forecast is the equal-weight mean of `fallback`. @default 3
   */
  minReplayDays?: number;
  /** Names of the candidates combined when the history is too short to pick. @default every candidate */
  fallback?: readonly string[];
  /** Replayed origins need at least this many hours of history before them. @default 96 */
  replayMinHistory?: number;
  /** Largest number of candidates averaged (the registry's auto: 5). @default 3 */
  maxMembers?: number;
  /** How replays are scored for the choice. @default "wmape" */
  score?: SelectionScore;
  /**
   * What the p90 bound and the backtest score are learnt from. `selection`: the replays of
   * `auto`'s own choice, made again at every replayed origin from the replays before it (so
   * the errors include the noise of choosing, which the chosen model's own replays hide);
   * `jackknife`: the same, each choice made from every other replayed day (later ones too);
   * `chosen`: the replays of the model finally chosen. @default "selection"
   */
  interval?: "selection" | "jackknife" | "chosen";
}

/**
 * `auto`: at each origin, replays every candidate over the last `calibrationDays` days of
 * the series' own history (only hours before the origin) and scores each by the wMAPE of the
 * first 24 hours of those replays. The means of the best 1, 2, ... `maxMembers` candidates
 * are scored the same way (their replays are the means of the members' replays), and the
 * forecast is made by the lowest-scoring one, a larger mean winning a near tie
 * (`closeMargin`): when the data cannot tell models apart, their mean is steadier than the
 * winner of the day. With under `minReplayDays` replayed days (a history of about a week or
 * less) the scores say too little and the forecast is the mean of `fallback`. The p90 and
 * the backtest score come from `interval`'s replays (by default auto's own choice replayed).
 * The registry's `auto` sets `AUTO_DEFAULTS` (clipping, members) on top of these defaults.
 */
export function createAutoModel(options: AutoOptions): ForecastModel {
  const s = settings(options);
  if (options.candidates.length === 0)
    throw new StrataError("bad_request", "[forecast] auto: no candidate models");
  const candidates = options.candidates.map((c) => clipped(c, s));
  const margin = options.closeMargin ?? 0.02;
  const minReplayDays = options.minReplayDays ?? 3;
  const fallback = options.fallback
    ? candidates.filter((c) => options.fallback?.includes(c.name))
    : candidates;
  // What auto forecasts with, from candidates scored on `days` replayed days.
  const choose = (scored: Scored[], days: number): Scored[] => {
    if (days < minReplayDays) {
      const short = scored.filter((c) => fallback.includes(c.model));
      return short.length > 0 ? short : scored;
    }
    return pickCombination(scored, options.maxMembers ?? 3, margin, options.score ?? "wmape");
  };
  return {
    name: "auto",
    forecast(history, horizon) {
      const h = tail(history, s.window);
      const replayOpts = {
        ...replayOptions(s, horizon),
        minHistory: options.replayMinHistory ?? 96,
      };
      const scored = candidates.map((model) => {
        const replays = recentErrors(model, h, replayOpts);
        return { model, replays, wmape: selectionScore(replays, options.score ?? "wmape") };
      });
      const ages = [...new Set(scored[0]?.replays.map((r) => r.age))];
      const chosen = choose(scored, ages.length);
      const point =
        chosen.length === 1
          ? (chosen[0] as Scored).model
          : meanOf(
              chosen.map((c) => c.model),
              s.memo,
            );
      const interval = options.interval ?? "selection";
      const replays =
        interval === "chosen"
          ? combineReplays(chosen)
          : selectionReplays(scored, ages, choose, interval === "jackknife");
      const forecast = bounded(point, h, horizon, s, replays);
      const scores = scored.map((c) => ({ model: c.model.name, wmape: c.wmape }));
      return {
        ...forecast,
        backtest: { ...(forecast.backtest as ReplayScore), candidates: scores },
      };
    },
  };
}

/**
 * `auto`'s own replays: at every replayed origin (age k days), the choice it would have made
 * from the replays older than that origin (ages above k; their first days end by it), and
 * that choice's replayed forecast. Needs no fit beyond the candidates' replays.
 */
export function selectionReplays(
  scored: readonly Scored[],
  ages: readonly number[],
  choose: (scored: Scored[], days: number) => Scored[],
  jackknife = false,
): ReplayedHour[] {
  const out: ReplayedHour[] = [];
  const used = (a: number, age: number) => (jackknife ? a !== age : a > age);
  for (const age of ages) {
    const before = scored.map((c) => {
      const replays = c.replays.filter((r) => used(r.age, age));
      return { model: c.model, replays, wmape: replayedWmape(replays) };
    });
    const days = ages.filter((a) => used(a, age)).length;
    const picked = choose(before, days);
    const own = picked.map((c) => ({
      ...c,
      replays: (scored.find((x) => x.model === c.model) as Scored).replays.filter(
        (r) => r.age === age,
      ),
    }));
    out.push(...combineReplays(own));
  }
  return out;
}

/**
 * How `auto` scores replays. `wmape`: over all replayed first-day hours (the default).
 * `median-day` / `trimmed-day`: the median / 20%-trimmed mean of each replayed day's wMAPE,
 * so that a burst day that every model misses weighs less (judged in the bench; not better).
 */
export type SelectionScore = "wmape" | "median-day" | "trimmed-day";

function selectionScore(replays: readonly ReplayedHour[], score: SelectionScore): number {
  if (score === "wmape") return replayedWmape(replays);
  const byDay = new Map<number, ReplayedHour[]>();
  for (const r of replays) {
    if (r.leadDay !== 0) continue;
    let list = byDay.get(r.age);
    if (!list) byDay.set(r.age, (list = []));
    list.push(r);
  }
  const days = [...byDay.values()].map((d) => replayedWmape(d)).filter(Number.isFinite);
  if (days.length === 0) return Infinity;
  return score === "median-day" ? median(days) : trimmedMean(days, 0.2);
}

/** A candidate with its replays and their score. */
export interface Scored {
  model: PointModel;
  replays: ReplayedHour[];
  wmape: number;
}

/**
 * The means of the best 1, 2, ... `maxMembers` candidates are scored on their replays; the
 * lowest wins, and a larger mean whose score is within `margin` of it is preferred (a close
 * race is a tie, and a tie goes to the combination).
 */
function pickCombination(
  scored: Scored[],
  maxMembers: number,
  margin: number,
  score: SelectionScore,
): Scored[] {
  const ranked = [...scored].sort((a, b) => a.wmape - b.wmape);
  const options: { members: Scored[]; wmape: number }[] = [];
  for (let k = 1; k <= Math.min(maxMembers, ranked.length); k++) {
    const members = ranked.slice(0, k);
    options.push({
      members,
      wmape: selectionScore(combineReplays(members), score),
    });
  }
  const best = Math.min(...options.map((o) => o.wmape));
  const kept = options.filter((o) => o.wmape <= best * (1 + margin));
  return (kept[kept.length - 1] ?? (options[0] as (typeof options)[number])).members;
}

/** The equal-weight mean of point models, predicting through the memo so members are fitted once. */
function meanOf(members: PointModel[], memo: ForecastMemo | undefined): PointModel {
  return {
    name: `mean(${members
      .map((m) => m.name)
      .sort()
      .join(", ")})`,
    description: `mean of ${members.map((m) => m.name).join(", ")}`,
    memoKey: `mean(${members
      .map((m) => m.memoKey ?? m.name)
      .sort()
      .join(", ")})`,
    predict(history, horizon) {
      const all = members.map((m) => memoPredict(m, history, horizon, memo));
      return Array.from(
        { length: horizon },
        (_, i) => all.reduce((sum, f) => sum + (f[i] as number), 0) / all.length,
      );
    },
  };
}

/** Replays of the mean of several models: the same hours, forecasts averaged. */
function combineReplays(members: readonly Scored[]): ReplayedHour[] {
  const first = members[0]?.replays ?? [];
  if (members.length === 1) return first;
  return first.map((r, i) => ({
    ...r,
    forecast:
      members.reduce((sum, m) => sum + (m.replays[i] as ReplayedHour).forecast, 0) / members.length,
  }));
}

function clipped(model: PointModel, s: Settings): PointModel {
  return s.clip > 0 ? withClippedHistory(model, { k: s.clip }) : model;
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
): Forecast & { backtest: ReplayScore } {
  const start = history.start + history.values.length * HOUR_MS;
  const mean = memoPredict(point, history, horizon, s.memo);
  const factors = upperFactors(replays, Math.ceil(horizon / DAY_HOURS), {
    quantile: s.quantile,
  });
  const p90 = mean.map((m, i) => {
    const f = factors[Math.floor(i / DAY_HOURS)]?.[hourOfDay(start + i * HOUR_MS)] ?? 1;
    return m * f;
  });
  const firstDay = replays.filter((r) => r.leadDay === 0);
  const wmape = replayedWmape(firstDay);
  const backtest: ReplayScore = {
    wmape: Number.isFinite(wmape) ? wmape : NaN,
    days: new Set(firstDay.map((r) => r.age)).size,
    hours: firstDay.length,
  };
  return { start, mean, p90, model: point.name, backtest };
}
