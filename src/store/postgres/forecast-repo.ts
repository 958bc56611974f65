import type pg from "pg";
import { StrataError } from "../../lib/errors.js";
import type {
  DailyRunRecord,
  EventRecord,
  ForecastRecord,
  ForecastRepo,
} from "../forecast-repo.js";
import { inTransaction } from "./sql.js";

const HOUR_MS = 3_600_000;

type Row = Record<string, unknown>;

function eventOf(row: Row): EventRecord {
  return {
    id: row.id as number,
    app: row.app as string,
    from: row.from_utc as number,
    to: row.to_utc as number,
    factor: row.factor as number,
    note: row.note as string,
    createdAt: row.created_at as number,
  };
}

/** ForecastRepo on the tables of migration 004-forecasts.sql. */
export function createPostgresForecastRepo(db: pg.Pool): ForecastRepo {
  return {
    async deleteApp(app) {
      return inTransaction(db, async (client) => {
        await client.query(
          "DELETE FROM forecast_hours WHERE forecast_id IN (SELECT id FROM forecasts WHERE app = $1)",
          [app],
        );
        let deleted = 0;
        for (const table of ["forecasts", "forecast_events", "forecast_daily_runs"])
          deleted +=
            (await client.query(`DELETE FROM ${table} WHERE app = $1`, [app])).rowCount ?? 0;
        return deleted > 0;
      });
    },
    async insert(f) {
      if (f.mean.length !== f.p90.length)
        throw new StrataError("bad_request", "[forecast] store: mean and p90 differ in length");
      const id = await inTransaction(db, async (client) => {
        const { rows } = await client.query(
          `INSERT INTO forecasts (app, origin_utc, created_at, trigger, requested_model, model, zone,
             history_from, history_hours, missing_hours, backtest_wmape, backtest_days, backtest_hours)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
          [
            f.app,
            f.origin,
            f.createdAt,
            f.trigger,
            f.requestedModel,
            f.model,
            f.zone,
            f.historyFrom,
            f.historyHours,
            f.missingHours,
            f.backtest?.wmape ?? null,
            f.backtest?.days ?? null,
            f.backtest?.hours ?? null,
          ],
        );
        const id = rows[0]!.id as number;
        await client.query(
          `INSERT INTO forecast_hours (forecast_id, hour_utc, mean, p90)
           SELECT $1, $2::bigint + (i - 1) * ${HOUR_MS}, m, p
           FROM unnest($3::float8[], $4::float8[]) WITH ORDINALITY AS h (m, p, i)`,
          [id, f.origin, f.mean, f.p90],
        );
        return id;
      });
      return { id, ...f };
    },
    latest: (app) =>
      readOne(db, "SELECT * FROM forecasts WHERE app = $1 ORDER BY id DESC LIMIT 1", [app]),
    latestBefore: (app, at) =>
      readOne(
        db,
        "SELECT * FROM forecasts WHERE app = $1 AND created_at <= $2 ORDER BY created_at DESC, id DESC LIMIT 1",
        [app, at],
      ),
    apps: async () =>
      (await db.query("SELECT DISTINCT app FROM forecasts ORDER BY app")).rows.map(
        (r) => r.app as string,
      ),
    async addEvent(event) {
      const { rows } = await db.query(
        `INSERT INTO forecast_events (app, from_utc, to_utc, factor, note, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
        [event.app, event.from, event.to, event.factor, event.note, event.createdAt],
      );
      return { id: rows[0]!.id as number, ...event };
    },
    async events(app, range) {
      const { rows } = range
        ? await db.query(
            `SELECT * FROM forecast_events WHERE app = $1 AND from_utc < $2 AND to_utc > $3
             ORDER BY from_utc, id`,
            [app, range.to, range.from],
          )
        : await db.query("SELECT * FROM forecast_events WHERE app = $1 ORDER BY from_utc, id", [
            app,
          ]);
      return rows.map(eventOf);
    },
    async removeEvent(app, id) {
      const { rows } = await db.query(
        "DELETE FROM forecast_events WHERE app = $1 AND id = $2 RETURNING *",
        [app, id],
      );
      return rows[0] ? eventOf(rows[0]) : null;
    },
    async claimDay(app, day, at) {
      const result = await db.query(
        `INSERT INTO forecast_daily_runs (app, day, claimed_at, outcome) VALUES ($1, $2, $3, 'running')
         ON CONFLICT DO NOTHING`,
        [app, day, at],
      );
      return result.rowCount === 1;
    },
    async finishDay(app, day, outcome, detail = {}) {
      await db.query(
        `UPDATE forecast_daily_runs SET outcome = $1, forecast_id = $2, message = $3
         WHERE app = $4 AND day = $5`,
        [outcome, detail.forecastId ?? null, detail.message ?? null, app, day],
      );
    },
    async dailyRuns(app, limit = 30) {
      const { rows } = await db.query(
        "SELECT * FROM forecast_daily_runs WHERE app = $1 ORDER BY day DESC LIMIT $2",
        [app, limit],
      );
      return rows.map((r): DailyRunRecord => ({
        app: r.app as string,
        day: r.day as string,
        claimedAt: r.claimed_at as number,
        outcome: r.outcome as DailyRunRecord["outcome"],
        forecastId: r.forecast_id as number | null,
        message: r.message as string | null,
      }));
    },
  };
}

/** The forecast the query selects (one row), with its hours, in one transaction. */
function readOne(db: pg.Pool, sql: string, values: unknown[]): Promise<ForecastRecord | null> {
  return inTransaction(db, async (client) => {
    const row = (await client.query(sql, values)).rows[0] as Row | undefined;
    if (!row) return null;
    const hours = (
      await client.query(
        "SELECT mean, p90 FROM forecast_hours WHERE forecast_id = $1 ORDER BY hour_utc",
        [row.id],
      )
    ).rows as { mean: number; p90: number }[];
    const record: ForecastRecord = {
      id: row.id as number,
      app: row.app as string,
      origin: row.origin_utc as number,
      createdAt: row.created_at as number,
      trigger: row.trigger as ForecastRecord["trigger"],
      requestedModel: row.requested_model as string,
      model: row.model as string,
      zone: row.zone as string,
      historyFrom: row.history_from as number | null,
      historyHours: row.history_hours as number,
      missingHours: row.missing_hours as number,
      mean: hours.map((h) => h.mean),
      p90: hours.map((h) => h.p90),
      ...(row.backtest_days === null || row.backtest_days === undefined
        ? {}
        : {
            backtest: {
              wmape: row.backtest_wmape as number | null,
              days: row.backtest_days as number,
              hours: row.backtest_hours as number,
            },
          }),
    };
    return record;
  });
}
