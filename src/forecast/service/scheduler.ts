import type { Clock } from "../../lib/clock.js";
import { messageOf, StrataError } from "../../lib/errors.js";
import type { DailyRunOutcome, ForecastRepo } from "../../store/forecast-repo.js";
import type { AuditFn } from "./forecast-service.js";
import { createZone } from "./zone.js";

export interface ForecastSchedulerOptions {
  clock: Clock;
  /** IANA zone of `atMinute` and of the days. */
  zone: string;
  /** Minutes after local midnight of the daily run. */
  atMinute: number;
  /** Apps to forecast, asked at every due run. */
  apps: () => Promise<string[]>;
  /** Forecasts and stores one app; a StrataError `conflict` means "not enough history" (skipped). */
  run: (app: string) => Promise<{ id: number }>;
  /** Claims of the days already run. */
  repo: Pick<ForecastRepo, "claimDay" | "finishDay">;
  /** @default none */
  audit?: AuditFn;
  /** Told about errors of the loop itself (not of a run, those are recorded). @default console.error */
  onError?: (err: unknown) => void;
  /**
   * Longest single sleep: the loop wakes at least this often and checks again, so a jump of
   * the system clock or a DST change delays a run by at most this much. @default 600000
   */
  maxSleepMs?: number;
}

/** What one check of the schedule did. */
export interface DailyTick {
  /** Local day that was due, or null before today's run time. */
  day: string | null;
  /** Apps run in this check (apps already claimed for the day are not listed). */
  runs: { app: string; outcome: Exclude<DailyRunOutcome, "running">; message?: string }[];
}

/**
 * Runs every app's forecast once a day at a local time. A day's run is due from that local
 * time until local midnight: a control plane that was down at the time runs it when it starts
 * (catch-up), and a claim per (app, day) in the repo makes sure no day runs twice, across
 * restarts and replicas. Missed earlier days are not made up: a forecast is made from now.
 */
export interface ForecastScheduler {
  /** Starts the loop, which checks at once (catch-up) and then at every run time. Called once. */
  start(): void;
  /** Checks the schedule now and runs the due, unclaimed apps one after another. */
  tick(): Promise<DailyTick>;
  /** Stops the loop and waits for a check in progress. Idempotent. */
  stop(): Promise<void>;
}

export function createForecastScheduler(options: ForecastSchedulerOptions): ForecastScheduler {
  const { clock, atMinute, repo } = options;
  const zone = createZone(options.zone);
  const audit = options.audit ?? (async () => {});
  const onError =
    options.onError ?? ((err) => console.error(`[forecast] daily run: ${messageOf(err)}`));
  const maxSleepMs = options.maxSleepMs ?? 600_000;
  const stopper = new AbortController();
  let loop: Promise<void> | null = null;

  async function tick(): Promise<DailyTick> {
    const now = clock.now();
    if (zone.minuteOfDay(now) < atMinute) return { day: null, runs: [] };
    const day = zone.day(now);
    const runs: DailyTick["runs"] = [];
    for (const app of await options.apps()) {
      if (stopper.signal.aborted) break;
      if (!(await repo.claimDay(app, day, now))) continue;
      let outcome: DailyTick["runs"][number];
      try {
        const { id } = await options.run(app);
        await repo.finishDay(app, day, "stored", { forecastId: id });
        outcome = { app, outcome: "stored" };
      } catch (err) {
        const skipped = err instanceof StrataError && err.code === "conflict";
        outcome = { app, outcome: skipped ? "skipped" : "failed", message: messageOf(err) };
        await repo.finishDay(app, day, outcome.outcome, { message: outcome.message! });
      }
      runs.push(outcome);
      await audit("forecast.daily", app, { day, ...outcome });
    }
    return { day, runs };
  }

  async function runLoop(): Promise<void> {
    const signal = stopper.signal;
    while (!signal.aborted) {
      await tick().catch(onError);
      const now = clock.now();
      const wait = Math.min(Math.max(zone.next(now, atMinute) - now, 1000), maxSleepMs);
      try {
        await clock.sleep(wait, signal);
      } catch {
        return;
      }
    }
  }

  return {
    start() {
      loop ??= runLoop();
    },
    tick,
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}

/** The apps of the daily run: every group's app and every app forecast before (e.g. from ingested logs). */
export async function appsToForecast(
  groups: { list(): Promise<{ app: string | null }[]> },
  repo: Pick<ForecastRepo, "apps">,
): Promise<string[]> {
  const apps = new Set(await repo.apps());
  for (const group of await groups.list()) if (group.app) apps.add(group.app);
  return [...apps].sort();
}
