/** How a stored forecast was started. */
export type ForecastTrigger = "manual" | "daily";

/** A stored forecast of one app. Times are Unix ms (UTC). */
export interface ForecastRecord {
  id: number;
  app: string;
  /** Start of the first forecast hour and end of the history; a whole UTC hour. */
  origin: number;
  createdAt: number;
  trigger: ForecastTrigger;
  /** The model asked for: `auto` or a model name. */
  requestedModel: string;
  /** The point model behind `mean` (for `auto`, the one it picked). */
  model: string;
  /** IANA zone whose days and hours of day the model saw. */
  zone: string;
  /** First hour with data in the history used; null when there was none. */
  historyFrom: number | null;
  /** Hours with data in the history used. */
  historyHours: number;
  /** Hours without data from `historyFrom` to `origin`. */
  missingHours: number;
  /** Expected requests per hour, before known events; hour `i` starts at `origin + i h`. */
  mean: number[];
  /** Upper bound per hour (90%), before known events; same length as `mean`. */
  p90: number[];
  /** The backtest replayed on the app's own history at the origin; absent on forecasts stored before it was kept. */
  backtest?: ForecastBacktest;
}

/**
 * How the forecast's model did on the app's own recent past: its first-day (24 h)
 * forecasts replayed from each of the last `days` days, against the actuals.
 */
export interface ForecastBacktest {
  /** sum |forecast - actual| / sum actual over the replayed hours; null without any. */
  wmape: number | null;
  /** Past origins replayed. */
  days: number;
  /** Replayed hours with an actual. */
  hours: number;
}

export type NewForecast = Omit<ForecastRecord, "id">;

/** A known one-off event of an app: hours starting in [from, to) are multiplied by `factor`. */
export interface EventRecord {
  id: number;
  app: string;
  from: number;
  to: number;
  /** > 0; overlapping events multiply. */
  factor: number;
  note: string;
  createdAt: number;
}

export type NewEvent = Omit<EventRecord, "id">;

export type DailyRunOutcome = "running" | "stored" | "skipped" | "failed";

/** The daily run of one app on one local day. */
export interface DailyRunRecord {
  app: string;
  /** `YYYY-MM-DD` in the configured zone. */
  day: string;
  claimedAt: number;
  /** `running` until finished; stays `running` when the control plane died during the run. */
  outcome: DailyRunOutcome;
  forecastId: number | null;
  message: string | null;
}

/**
 * Stored forecasts, known events and claims of the daily run. Every method is
 * async so that PostgreSQL can implement the same interface; every method may
 * run concurrently with any other, and each is one transaction.
 */
export interface ForecastRepo {
  /**
   * Stores a forecast and returns it with its id. Called once per run (daily or manual);
   * not idempotent: two calls store two forecasts, and `latest` returns the later one.
   */
  insert(forecast: NewForecast): Promise<ForecastRecord>;
  /** The app's most recently stored forecast. Read-only. */
  latest(app: string): Promise<ForecastRecord | null>;
  /**
   * The app's newest forecast created at or before `at` (Unix ms): what was
   * predicted then, to hold against what happened. Read by the dashboard. Read-only.
   */
  latestBefore(app: string, at: number): Promise<ForecastRecord | null>;
  /** Apps with at least one stored forecast, sorted. Read by the daily run. */
  apps(): Promise<string[]>;
  /** Stores a known event (validated by the caller) and returns it with its id. Not idempotent. */
  addEvent(event: NewEvent): Promise<EventRecord>;
  /**
   * The app's events, ordered by `from` then id; with a range, only those overlapping
   * [from, to) (an event ending exactly at `from` does not). Read-only.
   */
  events(app: string, range?: { from: number; to: number }): Promise<EventRecord[]>;
  /** Deletes an event of the app; returns it, or null when there was none. Idempotent. */
  removeEvent(app: string, id: number): Promise<EventRecord | null>;
  /**
   * Claims the daily run of (app, day): true for exactly one caller ever, false for every
   * other. Called by the scheduler before it runs the forecast, so a day never runs twice.
   */
  claimDay(app: string, day: string, at: number): Promise<boolean>;
  /** Records how a claimed daily run ended. Called once per claim; last call wins. */
  finishDay(
    app: string,
    day: string,
    outcome: Exclude<DailyRunOutcome, "running">,
    detail?: { forecastId?: number; message?: string },
  ): Promise<void>;
  /** The app's daily runs, newest day first. Read-only. */
  dailyRuns(app: string, limit?: number): Promise<DailyRunRecord[]>;
  /**
   * Deletes the app's forecasts, known events and daily runs (`app rm`), in
   * one transaction; resolves whether there was any. Idempotent.
   */
  deleteApp(app: string): Promise<boolean>;
}
