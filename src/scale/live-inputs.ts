import { runBacktest } from "../forecast/backtest.js";
import type { ForecastService } from "../forecast/service/forecast-service.js";
import type { Store } from "../store/store.js";
import type { ScaleInputs } from "./executor.js";
import { learnPeakRatios } from "./planner.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** Options of {@link createLiveInputs}. */
export interface LiveInputsOptions {
  group: string;
  store: Store;
  forecasts: Pick<ForecastService, "latest">;
  /** Days of minutes the peak ratios are learned from. @default 14 */
  ratioDays?: number;
}

/**
 * What the executor reads in the control plane: the app's latest forecast (events applied),
 * its per-minute traffic as the balancer counted it, the group's launches and deployments.
 */
export function createLiveInputs(options: LiveInputsOptions): ScaleInputs {
  const { group, store, forecasts } = options;
  const days = options.ratioDays ?? 14;
  let ratios: { hour: number; values: number[] } | null = null;
  const appOf = async () => (await store.groups.get(group))?.app ?? null;
  return {
    async forecast() {
      const app = await appOf();
      const view = app ? await forecasts.latest(app) : null;
      if (!view) return null;
      return {
        start: Date.parse(view.origin),
        stepMs: HOUR_MS,
        mean: view.hours.map((h) => h.mean),
        p90: view.hours.map((h) => h.p90),
      };
    },
    async peakRatios(now) {
      const app = await appOf();
      if (!app) return [];
      const hour = Math.floor(now / HOUR_MS);
      if (ratios?.hour === hour) return ratios.values;
      const from = (hour - days * 24) * HOUR_MS;
      const to = hour * HOUR_MS;
      const counts = new Float64Array((to - from) / MINUTE_MS).fill(NaN);
      for (const m of await store.traffic.minutes(app, from, to))
        counts[(m.minute - from) / MINUTE_MS] = m.total;
      ratios = {
        hour,
        values: learnPeakRatios({ start: from, stepMs: MINUTE_MS, counts }, { from, to }),
      };
      return ratios.values;
    },
    async observedRate(now, windowMs) {
      const app = await appOf();
      if (!app) return null;
      const minutes = await store.traffic.minutes(app, now - windowMs - MINUTE_MS, now);
      // The minute under way is partial; the busiest whole minute of the window is the rate.
      const whole = minutes.filter((m) => m.minute + MINUTE_MS <= now);
      if (whole.length === 0) return null;
      return Math.max(...whole.map((m) => m.total)) / 60;
    },
    async launchLags() {
      return (await store.servers.launches(group, 20))
        .filter((l) => l.in_service_at !== null)
        .map((l) => (l.in_service_at as number) - l.launched_at);
    },
    async deploymentRunning() {
      const app = await appOf();
      return app ? (await store.deployments.running(app, group)) !== null : false;
    },
  };
}

/** The app forecaster's day-ahead score on the app's own traffic, for `strata scale status`. */
export interface ForecasterScore {
  model: string;
  /** Days forecast and scored. */
  days: number;
  wmape: number;
  p90Coverage: number;
}

/**
 * The `strata forecast backtest` contract on the group's app's last 5 weeks of hourly
 * traffic (7 days of history before each scored day), at most once per UTC day; null until
 * there are 8 days of traffic. CPU-bound for a fraction of a second when it runs.
 */
export function createForecasterScore(options: {
  group: string;
  store: Store;
  model?: string;
}): (now: number) => Promise<ForecasterScore | null> {
  let cached: { day: number; score: ForecasterScore | null } | null = null;
  return async (now) => {
    const day = Math.floor(now / (24 * HOUR_MS));
    if (cached?.day === day) return cached.score;
    const app = (await options.store.groups.get(options.group))?.app ?? null;
    let score: ForecasterScore | null = null;
    if (app) {
      const to = day * 24 * HOUR_MS;
      const from = to - 35 * 24 * HOUR_MS;
      const values = new Array<number>((to - from) / HOUR_MS).fill(NaN);
      for (const h of await options.store.traffic.hourly(app, from, to))
        if (h.minutes >= 60) values[(h.hour - from) / HOUR_MS] = h.total;
      const first = values.findIndex((v) => !Number.isNaN(v));
      if (first >= 0) {
        const series = { start: from + first * HOUR_MS, values: values.slice(first) };
        const model = options.model ?? "auto";
        const result = runBacktest(series, { models: [model], minHistory: 7 * 24 });
        const s = result.scores[0];
        if (s && s.hours > 0)
          score = {
            model,
            days: result.origins.length,
            wmape: s.wmape,
            p90Coverage: s.p90Coverage,
          };
      }
    }
    cached = { day, score };
    return score;
  };
}
