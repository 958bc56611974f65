import pg from "pg";
import { systemClock, type Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import type { Release } from "../../wire/release.js";
import { AUDIT_GENESIS, auditHash, scanAll, verifyAuditChain } from "../audit-chain.js";
import type {
  ApiTokenRecord,
  ApiTokenRepo,
  DesiredRecord,
  DesiredRepo,
  AuditRepo,
  ChainedAuditEntry,
  DeploymentRecord,
  DeploymentRepo,
  DeploymentServerRecord,
  GroupRecord,
  GroupRepo,
  ReleaseRepo,
  ServerRecord,
  ServerRepo,
  Store,
} from "../store.js";
import { createPostgresForecastRepo } from "./forecast-repo.js";
import { createPostgresImageRepo } from "./image-repo.js";
import { ensureSchema, migrate } from "./migrate.js";
import {
  inTransaction,
  insertSql,
  NUMERIC_TYPES,
  setClause,
  withGroup,
  type Queryable,
} from "./sql.js";
import { createPostgresTrafficRepo } from "./traffic-repo.js";
import type { SecretRecord, SecretRepo } from "../secret-repo.js";

export interface PostgresStoreOptions {
  /** Connection URL, `postgres://user:password@host:port/database`. */
  url: string;
  /**
   * Schema holding strata's tables (created when missing); lets several
   * strata installations, or tests, share one database. @default "public"
   */
  schema?: string;
  /** Connections kept open by this replica. @default 10 */
  maxConnections?: number;
  /** Stamps traffic source records. @default systemClock */
  clock?: Clock;
}

/**
 * The state store on PostgreSQL, for several control-plane replicas. Connects,
 * applies pending migrations (safe when replicas start at once) and returns
 * the repositories; every method is one statement or one transaction.
 */
export async function createPostgresStore(
  options: PostgresStoreOptions,
): Promise<Store & { pool: pg.Pool }> {
  const schema = options.schema ?? "public";
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new StrataError("invalid_config", `[store] postgres: bad schema name "${schema}"`);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    types: NUMERIC_TYPES,
    options: `-c search_path=${schema}`,
    application_name: "strata",
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => {});
  try {
    if (schema !== "public") await ensureSchema(pool, schema);
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw new StrataError("unavailable", `[store] postgres: cannot open ${redact(options.url)}`, {
      cause: err,
    });
  }
  return {
    pool,
    releases: releaseRepo(pool),
    groups: groupRepo(pool),
    servers: serverRepo(pool),
    deployments: deploymentRepo(pool),
    audit: auditRepo(pool),
    tokens: apiTokenRepo(pool),
    desired: desiredRepo(pool),
    secrets: secretRepo(pool),
    images: createPostgresImageRepo(pool),
    traffic: createPostgresTrafficRepo(pool, { clock: options.clock ?? systemClock }),
    forecasts: createPostgresForecastRepo(pool),
    close: () => pool.end(),
  };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+):[^@]*@/, "$1:***@");
}

type Row = Record<string, unknown>;

async function one<T>(db: Queryable, sql: string, values: unknown[]): Promise<T | null> {
  return ((await db.query(sql, values)).rows[0] as T | undefined) ?? null;
}

function releaseRepo(db: pg.Pool): ReleaseRepo {
  const byVersion = (app: string, version: string) =>
    one<Release>(db, "SELECT * FROM releases WHERE app = $1 AND version = $2", [app, version]);
  return {
    delete: async (app, version) =>
      void (await db.query("DELETE FROM releases WHERE app = $1 AND version = $2", [app, version])),
    async insert(release) {
      await db.query(
        `INSERT INTO releases (id, app, version, size, file_count, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (app, version) DO NOTHING`,
        [
          release.id,
          release.app,
          release.version,
          release.size,
          release.file_count,
          release.created_at,
        ],
      );
      const stored = await byVersion(release.app, release.version);
      if (stored && stored.id !== release.id) {
        throw new StrataError(
          "conflict",
          `[server] release ${release.app}@${release.version} exists already as ${stored.id}; pick a new version`,
        );
      }
    },
    get: byVersion,
    getById: (id) =>
      one<Release>(db, "SELECT * FROM releases WHERE id = $1 ORDER BY created_at LIMIT 1", [id]),
    list: async (app) =>
      (app
        ? await db.query("SELECT * FROM releases WHERE app = $1 ORDER BY created_at DESC", [app])
        : await db.query("SELECT * FROM releases ORDER BY created_at DESC")
      ).rows as Release[],
  };
}

function groupRepo(db: pg.Pool): GroupRepo {
  const get = (name: string) =>
    one<GroupRecord>(db, "SELECT * FROM groups WHERE name = $1", [name]);
  return {
    delete: async (name) => void (await db.query("DELETE FROM groups WHERE name = $1", [name])),
    async ensure(name) {
      await db.query("INSERT INTO groups (name) VALUES ($1) ON CONFLICT DO NOTHING", [name]);
      return (await get(name))!;
    },
    get,
    list: async () => (await db.query("SELECT * FROM groups ORDER BY name")).rows as GroupRecord[],
    async update(name, patch) {
      const { sql, values } = setClause(patch as Row);
      if (sql)
        await db.query(`UPDATE groups SET ${sql} WHERE name = $${values.length + 1}`, [
          ...values,
          name,
        ]);
    },
  };
}

const GROUP_COLUMN = { group: "grp" };

function serverRepo(db: pg.Pool): ServerRepo {
  const select = async (where: string, values: unknown[]) =>
    (await db.query(`SELECT * FROM servers ${where}`, values)).rows.map((r) =>
      withGroup<ServerRecord>(r),
    );
  return {
    async insert(server) {
      const { sql, values } = insertSql("servers", server as unknown as Row, GROUP_COLUMN);
      try {
        await db.query(sql, values);
      } catch (err) {
        if ((err as { code?: string }).code !== "23505") throw err;
        throw new StrataError("conflict", `[server] server ${server.name} exists already`, {
          cause: err,
        });
      }
    },
    get: async (name) => (await select("WHERE name = $1", [name]))[0] ?? null,
    getByTokenHash: async (hash) =>
      (
        await select(
          "WHERE token_hash = $1 OR pending_token_hash = $1 OR previous_token_hash = $1",
          [hash],
        )
      )[0] ?? null,
    getByJoinTokenHash: async (hash) =>
      (await select("WHERE join_token_hash = $1 AND state != 'terminated'", [hash]))[0] ?? null,
    launches: async (group, limit) =>
      (
        await db.query(
          "SELECT launched_at, in_service_at FROM servers WHERE grp = $1 AND launched_at IS NOT NULL ORDER BY launched_at DESC LIMIT $2",
          [group, limit],
        )
      ).rows as { launched_at: number; in_service_at: number | null }[],
    list: (group) =>
      group
        ? select("WHERE grp = $1 AND state != 'terminated' ORDER BY name", [group])
        : select("WHERE state != 'terminated' ORDER BY name", []),
    async update(name, patch) {
      const { sql, values } = setClause(patch as Row, GROUP_COLUMN);
      if (sql)
        await db.query(`UPDATE servers SET ${sql} WHERE name = $${values.length + 1}`, [
          ...values,
          name,
        ]);
    },
    usedAddresses: async () =>
      (await db.query("SELECT address FROM servers WHERE state != 'terminated'")).rows.map(
        (r) => r.address as string,
      ),
  };
}

function secretRepo(db: pg.Pool): SecretRepo {
  return {
    put: async (r) =>
      void (await db.query(
        `INSERT INTO secrets (app, key, sealed, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (app, key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
        [r.app, r.key, r.sealed, r.updated_at],
      )),
    delete: async (app, key) =>
      (await db.query("DELETE FROM secrets WHERE app = $1 AND key = $2", [app, key])).rowCount ===
      1,
    list: async (app) =>
      (await db.query("SELECT * FROM secrets WHERE app = $1 ORDER BY key", [app]))
        .rows as SecretRecord[],
    deleteApp: async (app) =>
      (await db.query("DELETE FROM secrets WHERE app = $1", [app])).rowCount ?? 0,
  };
}

function desiredRepo(db: pg.Pool): DesiredRepo {
  return {
    get: async (server) =>
      ((await db.query("SELECT * FROM desired_state WHERE server = $1", [server])).rows[0] as
        DesiredRecord | undefined) ?? null,
    getMany: async (servers) =>
      (await db.query("SELECT * FROM desired_state WHERE server = ANY($1)", [servers]))
        .rows as DesiredRecord[],
    put: async (r) =>
      void (await db.query(
        `INSERT INTO desired_state (server, generation, release, stage, stopped, restart)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (server) DO UPDATE SET generation = excluded.generation, release = excluded.release,
           stage = excluded.stage, stopped = excluded.stopped, restart = excluded.restart`,
        [r.server, r.generation, r.release, r.stage, r.stopped, r.restart],
      )),
    putMany: async (records) =>
      void (await db.query(
        `INSERT INTO desired_state (server, generation, release, stage, stopped, restart)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::boolean[], $6::text[])
         ON CONFLICT (server) DO UPDATE SET generation = excluded.generation, release = excluded.release,
           stage = excluded.stage, stopped = excluded.stopped, restart = excluded.restart`,
        [
          records.map((r) => r.server),
          records.map((r) => r.generation),
          records.map((r) => r.release),
          records.map((r) => r.stage),
          records.map((r) => r.stopped),
          records.map((r) => r.restart),
        ],
      )),
    insertLock: async (name, owner) =>
      (
        await db.query(
          "INSERT INTO coordinator_locks (name, owner) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
          [name, owner],
        )
      ).rowCount === 1,
    lockOwner: async (name) =>
      ((await db.query("SELECT owner FROM coordinator_locks WHERE name = $1", [name])).rows[0]
        ?.owner as string | undefined) ?? null,
    deleteLock: async (name, owner) =>
      void (await db.query("DELETE FROM coordinator_locks WHERE name = $1 AND owner = $2", [
        name,
        owner,
      ])),
    deleteMany: async (servers) =>
      void (await db.query("DELETE FROM desired_state WHERE server = ANY($1)", [servers])),
  };
}

function apiTokenRepo(db: pg.Pool): ApiTokenRepo {
  return {
    async insert(token) {
      try {
        await db.query(
          "INSERT INTO api_tokens (name, role, token_hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
          [token.name, token.role, token.token_hash, token.created_at, token.revoked_at],
        );
      } catch (err) {
        if ((err as { code?: string }).code !== "23505") throw err;
        throw new StrataError("conflict", `[server] a token named ${token.name} exists already`, {
          cause: err,
        });
      }
    },
    getByHash: async (hash) =>
      ((
        await db.query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", [
          hash,
        ])
      ).rows[0] as ApiTokenRecord | undefined) ?? null,
    list: async () =>
      (await db.query("SELECT * FROM api_tokens ORDER BY name")).rows as ApiTokenRecord[],
    revoke: async (name, at) =>
      ((
        await db.query(
          "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
          [at, name],
        )
      ).rowCount ?? 0) > 0,
  };
}

function deploymentRepo(db: pg.Pool): DeploymentRepo {
  const updateServers = async (
    client: Queryable,
    id: string,
    servers: string[],
    patch: Partial<DeploymentServerRecord>,
  ) => {
    const { sql, values } = setClause(patch as Row);
    if (!sql || servers.length === 0) return;
    await client.query(
      `UPDATE deployment_servers SET ${sql}
       WHERE deployment_id = $${values.length + 1} AND server = ANY($${values.length + 2})`,
      [...values, id, servers],
    );
  };
  return {
    async insert(deployment, servers) {
      await inTransaction(db, async (client) => {
        const { sql, values } = insertSql(
          "deployments",
          deployment as unknown as Row,
          GROUP_COLUMN,
        );
        await client.query(sql, values);
        if (servers.length === 0) return;
        // One statement for every server: a deployment to thousands is one round trip.
        await client.query(
          `INSERT INTO deployment_servers (deployment_id, server, wave, state, error, steps)
           SELECT $1, * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::jsonb[])`,
          [
            deployment.id,
            servers.map((s) => s.server),
            servers.map((s) => s.wave),
            servers.map((s) => s.state),
            servers.map((s) => s.error),
            servers.map((s) => JSON.stringify(s.steps)),
          ],
        );
      });
    },
    get: async (id) => {
      const row = await one<Row>(db, "SELECT * FROM deployments WHERE id = $1", [id]);
      return row ? withGroup<DeploymentRecord>(row) : null;
    },
    async list(filter = {}) {
      const where: string[] = [];
      const values: unknown[] = [];
      if (filter.app) where.push(`app = $${values.push(filter.app)}`);
      if (filter.group) where.push(`grp = $${values.push(filter.group)}`);
      const sql = `SELECT * FROM deployments ${where.length ? "WHERE " + where.join(" AND ") : ""}
        ORDER BY created_at DESC, seq DESC LIMIT $${values.push(filter.limit ?? 100)}`;
      return (await db.query(sql, values)).rows.map((r) => withGroup<DeploymentRecord>(r));
    },
    running: async (app, group) => {
      const row = await one<Row>(
        db,
        "SELECT * FROM deployments WHERE app = $1 AND grp = $2 AND state = 'running' LIMIT 1",
        [app, group],
      );
      return row ? withGroup<DeploymentRecord>(row) : null;
    },
    async update(id, patch) {
      const { sql, values } = setClause(patch as Row, GROUP_COLUMN);
      if (sql)
        await db.query(`UPDATE deployments SET ${sql} WHERE id = $${values.length + 1}`, [
          ...values,
          id,
        ]);
    },
    servers: async (id) =>
      (
        await db.query(
          "SELECT * FROM deployment_servers WHERE deployment_id = $1 ORDER BY wave, server",
          [id],
        )
      ).rows as DeploymentServerRecord[],
    updateServers: (id, servers, patch) => updateServers(db, id, servers, patch),
    updateServer: (id, server, patch) => updateServers(db, id, [server], patch),
  };
}

function auditRepo(db: pg.Pool): AuditRepo {
  return {
    async append(entry) {
      const detail = JSON.parse(JSON.stringify(entry.detail ?? {})) as Record<string, unknown>;
      await inTransaction(db, async (client) => {
        // Appends take turns (readers do not wait): each needs the newest hash.
        await client.query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE");
        const newest = await one<{ id: number; hash: string }>(
          client,
          "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
          [],
        );
        const chained = { ...entry, detail, id: (newest?.id ?? 0) + 1 };
        const prev = newest?.hash ?? AUDIT_GENESIS;
        await client.query(
          `INSERT INTO audit_log (id, at, actor, action, subject, detail, prev_hash, hash)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            chained.id,
            chained.at,
            chained.actor,
            chained.action,
            chained.subject,
            JSON.stringify(detail),
            prev,
            auditHash(chained, prev),
          ],
        );
      });
    },
    async list(filter = {}) {
      const values: unknown[] = [];
      const where = filter.subject ? `WHERE subject = $${values.push(filter.subject)}` : "";
      const limit = `$${values.push(filter.limit ?? 200)}`;
      return (
        await db.query(`SELECT * FROM audit_log ${where} ORDER BY id DESC LIMIT ${limit}`, values)
      ).rows as ChainedAuditEntry[];
    },
    verify: () =>
      verifyAuditChain(
        scanAll(
          async (after, limit) =>
            (
              await db.query("SELECT * FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2", [
                after,
                limit,
              ])
            ).rows as ChainedAuditEntry[],
        ),
      ),
  };
}
