import type { Database } from "better-sqlite3";
import { systemClock, type Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import { HOUR_MS, type MinuteCounts } from "../../traffic/minute-counter.js";
import {
  checkTrafficBatch,
  type AddTrafficResult,
  type HourCounts,
  type TrafficCheckpoint,
  type TrafficRepo,
  type TrafficSource,
} from "../traffic-repo.js";

export interface SqliteTrafficRepoOptions {
  /** Stamps source records and checkpoints. @default systemClock */
  clock?: Clock;
}

interface CheckpointRow {
  source_key: string;
  inode: number | null;
  byte_offset: number;
  path: string | null;
  updated_at: number;
}

/** TrafficRepo on the tables of migration 002-traffic.sql, which must have been applied. */
export function createSqliteTrafficRepo(
  db: Database,
  options: SqliteTrafficRepoOptions = {},
): TrafficRepo {
  const clock = options.clock ?? systemClock;
  const upsert = db.prepare(`
    INSERT INTO traffic_minutes (app, minute_utc, total, s2xx, s3xx, s4xx, s5xx)
    VALUES (@app, @minute, @total, @s2xx, @s3xx, @s4xx, @s5xx)
    ON CONFLICT (app, minute_utc) DO UPDATE SET
      total = total + excluded.total,
      s2xx = s2xx + excluded.s2xx,
      s3xx = s3xx + excluded.s3xx,
      s4xx = s4xx + excluded.s4xx,
      s5xx = s5xx + excluded.s5xx`);
  const insertSource = db.prepare(`
    INSERT OR IGNORE INTO traffic_sources (app, source_key, part, minutes, requests, path, recorded_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const selectCheckpoint = db.prepare(
    "SELECT * FROM traffic_checkpoints WHERE app = ? AND source_key = ?",
  );
  const saveCheckpoint = db.prepare(`
    INSERT INTO traffic_checkpoints (app, source_key, inode, byte_offset, path, updated_at)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (app, source_key) DO UPDATE SET
      inode = excluded.inode, byte_offset = excluded.byte_offset,
      path = excluded.path, updated_at = excluded.updated_at`);
  const selectMinutes = db.prepare(`
    SELECT minute_utc AS minute, total, s2xx, s3xx, s4xx, s5xx FROM traffic_minutes
    WHERE app = ? AND minute_utc >= ? AND minute_utc < ? ORDER BY minute_utc`);
  const selectHours = db.prepare(`
    SELECT (minute_utc / ${HOUR_MS}) * ${HOUR_MS} AS hour,
      SUM(total) AS total, SUM(s2xx) AS s2xx, SUM(s3xx) AS s3xx, SUM(s4xx) AS s4xx,
      SUM(s5xx) AS s5xx, COUNT(*) AS minutes
    FROM traffic_minutes WHERE app = ? AND minute_utc >= ? AND minute_utc < ?
    GROUP BY hour ORDER BY hour`);

  const addAll = (app: string, minutes: MinuteCounts[]) => {
    for (const m of minutes) upsert.run({ app, ...m });
  };

  const add = db.transaction(
    (app: string, minutes: MinuteCounts[], source: TrafficSource | undefined): AddTrafficResult => {
      const kind = checkTrafficBatch(minutes, source);
      const duplicate = { accepted: 0, duplicate: true };
      if (kind === "range") {
        const { key, start, end } = source as Required<
          Pick<TrafficSource, "key" | "start" | "end">
        >;
        const checkpoint = selectCheckpoint.get(app, key) as CheckpointRow | undefined;
        if (checkpoint && start < checkpoint.byte_offset) {
          if (end <= checkpoint.byte_offset) return duplicate;
          throw new StrataError(
            "conflict",
            `[traffic] ${key}: bytes ${start}-${end} overlap the checkpoint at ${checkpoint.byte_offset}`,
          );
        }
        addAll(app, minutes);
        saveCheckpoint.run(app, key, source!.inode ?? null, end, source!.path ?? null, clock.now());
      } else if (kind === "part") {
        const requests = minutes.reduce((sum, m) => sum + m.total, 0);
        const recorded = insertSource.run(
          app,
          source!.key,
          source!.part ?? 0,
          minutes.length,
          requests,
          source!.path ?? null,
          clock.now(),
        );
        if (recorded.changes === 0) return duplicate;
        addAll(app, minutes);
      } else addAll(app, minutes);
      return { accepted: minutes.length, duplicate: false };
    },
  );

  const deleteApp = db.transaction((app: string) => {
    let deleted = 0;
    for (const table of ["traffic_minutes", "traffic_sources", "traffic_checkpoints"])
      deleted += db.prepare(`DELETE FROM ${table} WHERE app = ?`).run(app).changes;
    return deleted > 0;
  });

  return {
    async add(app, minutes, source) {
      return add(app, minutes, source);
    },
    async deleteApp(app) {
      return deleteApp(app);
    },
    async minutes(app, from, to) {
      return selectMinutes.all(app, from, to) as MinuteCounts[];
    },
    async hourly(app, from, to) {
      return selectHours.all(app, from, to) as HourCounts[];
    },
    async checkpoint(app, key): Promise<TrafficCheckpoint | null> {
      const row = selectCheckpoint.get(app, key) as CheckpointRow | undefined;
      if (!row) return null;
      return {
        key: row.source_key,
        inode: row.inode,
        offset: row.byte_offset,
        path: row.path,
        updatedAt: row.updated_at,
      };
    },
  };
}
