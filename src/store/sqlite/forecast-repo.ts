import type { Database } from "better-sqlite3";
import { StrataError } from "../../lib/errors.js";
import type {
  DailyRunRecord,
  EventRecord,
  ForecastRecord,
  ForecastRepo,
  NewForecast,
} from "../forecast-repo.js";

const HOUR_MS = 3_600_000;

interface ForecastRow {
  id: number;
  app: string;
  origin_utc: number;
  created_at: number;
  trigger: ForecastRecord["trigger"];
  requested_model: string;
  model: string;
  zone: string;
  history_from: number | null;
  history_hours: number;
  missing_hours: number;
  backtest_wmape: number | null;
  backtest_days: number | null;
  backtest_hours: number | null;
}

interface EventRow {
  id: number;
  app: string;
  from_utc: number;
  to_utc: number;
  factor: number;
  note: string;
  created_at: number;
}

interface DailyRunRow {
  app: string;
  day: string;
  claimed_at: number;
  outcome: DailyRunRecord["outcome"];
  forecast_id: number | null;
  message: string | null;
}

/** ForecastRepo on the tables of migrations 004-forecasts.sql and 008-forecast-backtest.sql, which must have been applied. */
export function createSqliteForecastRepo(db: Database): ForecastRepo {
  const insertForecast = db.prepare(`
    INSERT INTO forecasts (app, origin_utc, created_at, trigger, requested_model, model, zone,
      history_from, history_hours, missing_hours, backtest_wmape, backtest_days, backtest_hours)
    VALUES (@app, @origin, @createdAt, @trigger, @requestedModel, @model, @zone,
      @historyFrom, @historyHours, @missingHours, @backtestWmape, @backtestDays, @backtestHours)`);
  const insertHour = db.prepare(
    "INSERT INTO forecast_hours (forecast_id, hour_utc, mean, p90) VALUES (?, ?, ?, ?)",
  );
  const selectLatest = db.prepare("SELECT * FROM forecasts WHERE app = ? ORDER BY id DESC LIMIT 1");
  const selectLatestBefore = db.prepare(
    "SELECT * FROM forecasts WHERE app = ? AND created_at <= ? ORDER BY created_at DESC, id DESC LIMIT 1",
  );
  const selectHours = db.prepare(
    "SELECT hour_utc, mean, p90 FROM forecast_hours WHERE forecast_id = ? ORDER BY hour_utc",
  );
  const selectApps = db.prepare("SELECT DISTINCT app FROM forecasts ORDER BY app");
  const insertEvent = db.prepare(`
    INSERT INTO forecast_events (app, from_utc, to_utc, factor, note, created_at)
    VALUES (@app, @from, @to, @factor, @note, @createdAt)`);
  const selectEvents = db.prepare(
    "SELECT * FROM forecast_events WHERE app = ? ORDER BY from_utc, id",
  );
  const selectEventsIn = db.prepare(`
    SELECT * FROM forecast_events WHERE app = ? AND from_utc < ? AND to_utc > ?
    ORDER BY from_utc, id`);
  const selectEvent = db.prepare("SELECT * FROM forecast_events WHERE app = ? AND id = ?");
  const deleteEvent = db.prepare("DELETE FROM forecast_events WHERE app = ? AND id = ?");
  const claim = db.prepare(`
    INSERT OR IGNORE INTO forecast_daily_runs (app, day, claimed_at, outcome)
    VALUES (?, ?, ?, 'running')`);
  const finish = db.prepare(`
    UPDATE forecast_daily_runs SET outcome = ?, forecast_id = ?, message = ?
    WHERE app = ? AND day = ?`);
  const selectRuns = db.prepare(
    "SELECT * FROM forecast_daily_runs WHERE app = ? ORDER BY day DESC LIMIT ?",
  );

  const insert = db.transaction((f: NewForecast): number => {
    const { lastInsertRowid } = insertForecast.run({
      app: f.app,
      origin: f.origin,
      createdAt: f.createdAt,
      trigger: f.trigger,
      requestedModel: f.requestedModel,
      model: f.model,
      zone: f.zone,
      historyFrom: f.historyFrom,
      historyHours: f.historyHours,
      missingHours: f.missingHours,
      backtestWmape: f.backtest?.wmape ?? null,
      backtestDays: f.backtest?.days ?? null,
      backtestHours: f.backtest?.hours ?? null,
    });
    const id = Number(lastInsertRowid);
    f.mean.forEach((m, i) => insertHour.run(id, f.origin + i * HOUR_MS, m, f.p90[i]));
    return id;
  });

  const read = (row: ForecastRow): ForecastRecord => {
    const hours = selectHours.all(row.id) as { hour_utc: number; mean: number; p90: number }[];
    return {
      id: row.id,
      app: row.app,
      origin: row.origin_utc,
      createdAt: row.created_at,
      trigger: row.trigger,
      requestedModel: row.requested_model,
      model: row.model,
      zone: row.zone,
      historyFrom: row.history_from,
      historyHours: row.history_hours,
      missingHours: row.missing_hours,
      mean: hours.map((h) => h.mean),
      p90: hours.map((h) => h.p90),
      ...(row.backtest_days === null
        ? {}
        : {
            backtest: {
              wmape: row.backtest_wmape,
              days: row.backtest_days,
              hours: row.backtest_hours ?? 0,
            },
          }),
    };
  };

  const latest = db.transaction((app: string): ForecastRecord | null => {
    const row = selectLatest.get(app) as ForecastRow | undefined;
    return row ? read(row) : null;
  });

  const latestBefore = db.transaction((app: string, at: number): ForecastRecord | null => {
    const row = selectLatestBefore.get(app, at) as ForecastRow | undefined;
    return row ? read(row) : null;
  });

  const removeEvent = db.transaction((app: string, id: number): EventRecord | null => {
    const row = selectEvent.get(app, id) as EventRow | undefined;
    if (!row) return null;
    deleteEvent.run(app, id);
    return eventOf(row);
  });

  const deleteApp = db.transaction((app: string) => {
    db.prepare(
      "DELETE FROM forecast_hours WHERE forecast_id IN (SELECT id FROM forecasts WHERE app = ?)",
    ).run(app);
    let deleted = 0;
    for (const table of ["forecasts", "forecast_events", "forecast_daily_runs"])
      deleted += db.prepare(`DELETE FROM ${table} WHERE app = ?`).run(app).changes;
    return deleted > 0;
  });

  return {
    async deleteApp(app) {
      return deleteApp(app);
    },
    async insert(forecast) {
      if (forecast.mean.length !== forecast.p90.length)
        throw new StrataError("bad_request", "[forecast] store: mean and p90 differ in length");
      return { id: insert(forecast), ...forecast };
    },
    async latest(app) {
      return latest(app);
    },
    async latestBefore(app, at) {
      return latestBefore(app, at);
    },
    async apps() {
      return (selectApps.all() as { app: string }[]).map((r) => r.app);
    },
    async addEvent(event) {
      const { lastInsertRowid } = insertEvent.run(event);
      return { id: Number(lastInsertRowid), ...event };
    },
    async events(app, range) {
      const rows = range ? selectEventsIn.all(app, range.to, range.from) : selectEvents.all(app);
      return (rows as EventRow[]).map(eventOf);
    },
    async removeEvent(app, id) {
      return removeEvent(app, id);
    },
    async claimDay(app, day, at) {
      return claim.run(app, day, at).changes === 1;
    },
    async finishDay(app, day, outcome, detail = {}) {
      finish.run(outcome, detail.forecastId ?? null, detail.message ?? null, app, day);
    },
    async dailyRuns(app, limit = 30) {
      return (selectRuns.all(app, limit) as DailyRunRow[]).map((r) => ({
        app: r.app,
        day: r.day,
        claimedAt: r.claimed_at,
        outcome: r.outcome,
        forecastId: r.forecast_id,
        message: r.message,
      }));
    },
  };
}

function eventOf(row: EventRow): EventRecord {
  return {
    id: row.id,
    app: row.app,
    from: row.from_utc,
    to: row.to_utc,
    factor: row.factor,
    note: row.note,
    createdAt: row.created_at,
  };
}
