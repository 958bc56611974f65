import { StrataError } from "../lib/errors.js";
import {
  createAutoModel,
  createForecaster,
  type AutoOptions,
  type ForecasterOptions,
} from "./forecaster.js";
import type { ForecastModel, PointModel } from "./model.js";
import { createDshwModel } from "./models/dshw.js";
import { createEnsemble } from "./models/ensemble.js";
import { createHarmonicRegression } from "./models/harmonic-regression.js";
import { createMstlModel } from "./models/mstl.js";
import { createProfileModel } from "./models/profile.js";
import { createSeasonalMedian } from "./models/seasonal-median.js";
import { createSeasonalNaive } from "./models/seasonal-naive.js";
import { DAY_HOURS, WEEK_HOURS } from "./series.js";

const BUILDERS: Record<string, () => PointModel> = {
  "snaive-day": () => createSeasonalNaive({ period: DAY_HOURS }),
  "snaive-week": () => createSeasonalNaive({ period: WEEK_HOURS }),
  "seasonal-median": () => createSeasonalMedian(),
  dshw: () => createDshwModel(),
  dhr: () => createHarmonicRegression(),
  mstl: () => createMstlModel(),
  profile: () => createProfileModel(),
  "profile-smooth": () => createProfileModel({ name: "profile-smooth", alpha: 0.5 }),
  "profile+median": () =>
    createEnsemble({
      name: "profile+median",
      members: [createProfileModel(), createSeasonalMedian()],
    }),
};

/** Names `createPointModel` accepts. */
export const POINT_MODEL_NAMES: readonly string[] = Object.freeze(Object.keys(BUILDERS));

/** Names `createForecastModel` accepts: `auto` and every point model. */
export const MODEL_NAMES: readonly string[] = Object.freeze(["auto", ...POINT_MODEL_NAMES]);

/** Point models `auto` chooses from. */
export const AUTO_CANDIDATES: readonly string[] = Object.freeze([...POINT_MODEL_NAMES]);

/**
 * What `auto` averages when the history is too short to replay: one model of each family
 * that works from two days (regression, decomposition, robust daily profile); the seasonal
 * naives, the seasonal median and DSHW only repeat the last day under a week or two.
 */
export const AUTO_FALLBACK: readonly string[] = Object.freeze(["dhr", "mstl", "profile"]);

/**
 * `auto`'s settings, each chosen by leave-one-trace-out on the traces of `../shared/data`
 * (`bench/forecast-backtest.bench.ts`, docs/forecast.md): its candidates are fitted on the
 * history with outliers beyond 4 robust sd clipped, up to 5 of them are averaged, and the
 * p90 is learnt from the replays of its own choice made again at every replayed origin.
 */
export const AUTO_DEFAULTS: Readonly<Pick<AutoOptions, "clip" | "maxMembers" | "interval">> =
  Object.freeze({ clip: 4, maxMembers: 5, interval: "selection" });

/** Builds a point model by name; rejects unknown names. */
export function createPointModel(name: string): PointModel {
  const build = BUILDERS[name];
  if (!build) {
    throw new StrataError(
      "bad_request",
      `[forecast] unknown model "${name}" (known: ${MODEL_NAMES.join(", ")})`,
    );
  }
  return build();
}

/** Builds `auto` or a point model wrapped with its empirical p90 bound. */
export function createForecastModel(name: string, options: ForecasterOptions = {}): ForecastModel {
  if (name === "auto")
    return createAutoModel({
      fallback: AUTO_FALLBACK,
      ...AUTO_DEFAULTS,
      ...options,
      candidates: AUTO_CANDIDATES.map(createPointModel),
    });
  return createForecaster(createPointModel(name), options);
}
