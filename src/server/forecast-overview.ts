import type { ForecastService } from "../forecast/service/forecast-service.js";
import type { Clock } from "../lib/clock.js";
import { isoTime } from "../lib/clock.js";
import type { Store } from "../store/store.js";
import type { ForecastCheckHour, ForecastOverview, ForecastsOverview } from "../wire/dashboard.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface ForecastOverviewDeps {
  store: Store;
  forecasts: ForecastService;
  clock: Clock;
}

/** Every app with traffic or forecasts (or just `app`): its latest forecast and yesterday's, checked. */
export async function forecastOverview(
  deps: ForecastOverviewDeps,
  only?: string,
): Promise<ForecastsOverview> {
  const { store } = deps;
  const names = new Set(await store.forecasts.apps());
  for (const group of await store.groups.list()) if (group.app) names.add(group.app);
  const apps = [...names].filter((a) => !only || a === only).sort();
  return { apps: await Promise.all(apps.map((app) => overview(deps, app))) };
}

async function overview(deps: ForecastOverviewDeps, app: string): Promise<ForecastOverview> {
  const { store, forecasts, clock } = deps;
  const now = clock.now();
  const latest = await forecasts.latest(app);
  const earlier = await store.forecasts.latestBefore(app, now - DAY_MS);
  let yesterday: ForecastOverview["yesterday"] = null;
  if (earlier) {
    const passed = Math.floor(now / HOUR_MS) * HOUR_MS;
    const end = Math.min(passed, earlier.origin + earlier.mean.length * HOUR_MS);
    const counts = new Map(
      end > earlier.origin
        ? (await store.traffic.hourly(app, earlier.origin, end)).map((h) => [h.hour, h.total])
        : [],
    );
    const events = await store.forecasts.events(app, { from: earlier.origin, to: end });
    const hours: ForecastCheckHour[] = [];
    for (let i = 0; earlier.origin + i * HOUR_MS < end; i++) {
      const time = earlier.origin + i * HOUR_MS;
      const factor = events.reduce((m, e) => (time >= e.from && time < e.to ? m * e.factor : m), 1);
      hours.push({
        time,
        mean: (earlier.mean[i] ?? 0) * factor,
        p90: (earlier.p90[i] ?? 0) * factor,
        observed: counts.get(time) ?? null,
      });
    }
    const seen = hours.filter((h) => h.observed !== null);
    const total = seen.reduce((sum, h) => sum + h.observed!, 0);
    yesterday = {
      id: earlier.id,
      model: earlier.model,
      origin: isoTime(earlier.origin),
      created_at: isoTime(earlier.createdAt),
      hours,
      wape:
        seen.length > 0 && total > 0
          ? seen.reduce((sum, h) => sum + Math.abs(h.observed! - h.mean), 0) / total
          : null,
      p90_coverage:
        seen.length > 0 ? seen.filter((h) => h.observed! <= h.p90).length / seen.length : null,
    };
  }
  return { app, latest, backtest: null, yesterday };
}
