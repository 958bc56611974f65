import type pg from "pg";
import { systemClock, type Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import { HOUR_MS, type MinuteCounts } from "../../traffic/minute-counter.js";
import {
  checkTrafficBatch,
  type HourCounts,
  type TrafficCheckpoint,
  type TrafficRepo,
  type TrafficSource,
} from "../traffic-repo.js";
import { inTransaction, type Queryable } from "./sql.js";

export interface PostgresTrafficRepoOptions {
  /** Stamps source records and checkpoints. @default systemClock */
  clock?: Clock;
}

/** TrafficRepo on the tables of migration 002-traffic.sql. */
export function createPostgresTrafficRepo(
  db: pg.Pool,
  options: PostgresTrafficRepoOptions = {},
): TrafficRepo {
  const clock = options.clock ?? systemClock;

  /** One statement for the whole batch; the upsert adds atomically under concurrent adds. */
  const addAll = async (client: Queryable, app: string, minutes: MinuteCounts[]) => {
    if (minutes.length === 0) return;
    const col = (f: keyof MinuteCounts) => minutes.map((m) => m[f]);
    await client.query(
      `INSERT INTO traffic_minutes AS t (app, minute_utc, total, s2xx, s3xx, s4xx, s5xx)
       SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
       ON CONFLICT (app, minute_utc) DO UPDATE SET
         total = t.total + excluded.total, s2xx = t.s2xx + excluded.s2xx,
         s3xx = t.s3xx + excluded.s3xx, s4xx = t.s4xx + excluded.s4xx, s5xx = t.s5xx + excluded.s5xx`,
      [app, col("minute"), col("total"), col("s2xx"), col("s3xx"), col("s4xx"), col("s5xx")],
    );
  };

  const readCheckpoint = async (client: Queryable, app: string, key: string) =>
    ((
      await client.query("SELECT * FROM traffic_checkpoints WHERE app = $1 AND source_key = $2", [
        app,
        key,
      ])
    ).rows[0] as
      | {
          source_key: string;
          inode: number | null;
          byte_offset: number;
          path: string | null;
          updated_at: number;
        }
      | undefined) ?? null;

  return {
    async deleteApp(app) {
      return inTransaction(db, async (client) => {
        let deleted = 0;
        for (const table of ["traffic_minutes", "traffic_sources", "traffic_checkpoints"])
          deleted +=
            (await client.query(`DELETE FROM ${table} WHERE app = $1`, [app])).rowCount ?? 0;
        return deleted > 0;
      });
    },
    async add(app, minutes, source?: TrafficSource) {
      const kind = checkTrafficBatch(minutes, source);
      // A batch with one minute twice would hit the upsert twice in one statement: merge first.
      const merged = mergeMinutes(minutes);
      const duplicate = { accepted: 0, duplicate: true };
      if (kind === "none") {
        await addAll(db, app, merged);
        return { accepted: minutes.length, duplicate: false };
      }
      return inTransaction(db, async (client) => {
        const { key } = source!;
        if (kind === "range") {
          const { start, end } = source as Required<Pick<TrafficSource, "start" | "end">>;
          // Ranges of one followed file take turns: the checkpoint is read, then moved.
          await client.query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [
            app,
            key,
          ]);
          const checkpoint = await readCheckpoint(client, app, key);
          if (checkpoint && start < checkpoint.byte_offset) {
            if (end <= checkpoint.byte_offset) return duplicate;
            throw new StrataError(
              "conflict",
              `[traffic] ${key}: bytes ${start}-${end} overlap the checkpoint at ${checkpoint.byte_offset}`,
            );
          }
          await addAll(client, app, merged);
          await client.query(
            `INSERT INTO traffic_checkpoints (app, source_key, inode, byte_offset, path, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (app, source_key) DO UPDATE SET inode = excluded.inode,
               byte_offset = excluded.byte_offset, path = excluded.path, updated_at = excluded.updated_at`,
            [app, key, source!.inode ?? null, end, source!.path ?? null, clock.now()],
          );
        } else {
          const requests = minutes.reduce((sum, m) => sum + m.total, 0);
          const recorded = await client.query(
            `INSERT INTO traffic_sources (app, source_key, part, minutes, requests, path, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
            [
              app,
              key,
              source!.part ?? 0,
              minutes.length,
              requests,
              source!.path ?? null,
              clock.now(),
            ],
          );
          if (recorded.rowCount === 0) return duplicate;
          await addAll(client, app, merged);
        }
        return { accepted: minutes.length, duplicate: false };
      });
    },
    async minutes(app, from, to) {
      return (
        await db.query(
          `SELECT minute_utc AS minute, total, s2xx, s3xx, s4xx, s5xx FROM traffic_minutes
           WHERE app = $1 AND minute_utc >= $2 AND minute_utc < $3 ORDER BY minute_utc`,
          [app, from, to],
        )
      ).rows as MinuteCounts[];
    },
    async hourly(app, from, to) {
      return (
        await db.query(
          `SELECT (minute_utc / ${HOUR_MS}) * ${HOUR_MS} AS hour,
             SUM(total)::bigint AS total, SUM(s2xx)::bigint AS s2xx, SUM(s3xx)::bigint AS s3xx,
             SUM(s4xx)::bigint AS s4xx, SUM(s5xx)::bigint AS s5xx, COUNT(*) AS minutes
           FROM traffic_minutes WHERE app = $1 AND minute_utc >= $2 AND minute_utc < $3
           GROUP BY hour ORDER BY hour`,
          [app, from, to],
        )
      ).rows as HourCounts[];
    },
    async checkpoint(app, key): Promise<TrafficCheckpoint | null> {
      const row = await readCheckpoint(db, app, key);
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

function mergeMinutes(minutes: MinuteCounts[]): MinuteCounts[] {
  const byMinute = new Map<number, MinuteCounts>();
  for (const m of minutes) {
    const seen = byMinute.get(m.minute);
    if (!seen) byMinute.set(m.minute, { ...m });
    else for (const f of ["total", "s2xx", "s3xx", "s4xx", "s5xx"] as const) seen[f] += m[f];
  }
  return [...byMinute.values()].sort((a, b) => a.minute - b.minute); // one lock order for all
}
