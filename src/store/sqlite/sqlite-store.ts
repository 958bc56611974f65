import BetterSqlite3, { type Database, type Statement } from "better-sqlite3";
import { StrataError } from "../../lib/errors.js";
import type { Release } from "../../wire/release.js";
import type {
  ApiTokenRecord,
  ApiTokenRepo,
  AuditEntry,
  AuditRepo,
  ChainedAuditEntry,
  DeploymentRecord,
  DeploymentRepo,
  DeploymentServerRecord,
  DesiredRepo,
  DesiredRecord,
  GroupRecord,
  GroupRepo,
  ReleaseRepo,
  ServerRecord,
  ServerRepo,
  Store,
} from "../store.js";
import { systemClock, type Clock } from "../../lib/clock.js";
import { AUDIT_GENESIS, auditHash, scanAll, verifyAuditChain } from "../audit-chain.js";
import { createSqliteForecastRepo } from "./forecast-repo.js";
import { createSqliteImageRepo } from "./image-repo.js";
import { migrate } from "./migrate.js";
import { createSqliteTrafficRepo } from "./traffic-repo.js";
import type { SecretRecord, SecretRepo } from "../secret-repo.js";

export interface SqliteStoreOptions {
  /** Database file, or ":memory:". */
  path: string;
  /** @default systemClock */
  clock?: Clock;
}

/** The embedded state store. Opens (and migrates) the database file. */
export function createSqliteStore(options: SqliteStoreOptions): Store & { db: Database } {
  const db = new BetterSqlite3(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  migrate(db);
  return {
    db,
    releases: releaseRepo(db),
    groups: groupRepo(db),
    servers: serverRepo(db),
    deployments: deploymentRepo(db),
    audit: auditRepo(db),
    desired: desiredRepo(db),
    secrets: secretRepo(db),
    tokens: apiTokenRepo(db),
    images: createSqliteImageRepo(db),
    traffic: createSqliteTrafficRepo(db, { clock: options.clock ?? systemClock }),
    forecasts: createSqliteForecastRepo(db),
    close: async () => {
      db.close();
    },
  };
}

type Row = Record<string, unknown>;

const statements = new WeakMap<Database, Map<string, Statement>>();

/** Compiles each distinct SQL text once per connection (patches build their SQL per call). */
function prepare(db: Database, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = db.prepare(sql)));
  return statement;
}

/** Builds `SET a = @a, b = @b` for the defined keys of a patch, renaming columns where the SQL name differs. */
function setClause(patch: Row, columns: Record<string, string> = {}): { sql: string; values: Row } {
  const keys = Object.keys(patch).filter((k) => patch[k] !== undefined);
  const values: Row = {};
  for (const k of keys) {
    const v = patch[k];
    values[k] =
      typeof v === "boolean"
        ? Number(v)
        : Array.isArray(v) || isPlainObject(v)
          ? JSON.stringify(v)
          : v;
  }
  return { sql: keys.map((k) => `${columns[k] ?? k} = @${k}`).join(", "), values };
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

function releaseRepo(db: Database): ReleaseRepo {
  const insert = prepare(
    db,
    "INSERT INTO releases (id, app, version, size, file_count, created_at) VALUES (@id, @app, @version, @size, @file_count, @created_at)",
  );
  const byVersion = prepare(db, "SELECT * FROM releases WHERE app = ? AND version = ?");
  const byId = prepare(db, "SELECT * FROM releases WHERE id = ? ORDER BY created_at LIMIT 1");
  return {
    insert: async (release) => {
      const existing = byVersion.get(release.app, release.version) as Release | undefined;
      if (existing) {
        if (existing.id === release.id) return;
        throw new StrataError(
          "conflict",
          `[server] release ${release.app}@${release.version} exists already as ${existing.id}; pick a new version`,
        );
      }
      insert.run(release);
    },
    get: async (app, version) => (byVersion.get(app, version) as Release | undefined) ?? null,
    getById: async (id) => (byId.get(id) as Release | undefined) ?? null,
    list: async (app) =>
      (app
        ? prepare(db, "SELECT * FROM releases WHERE app = ? ORDER BY created_at DESC").all(app)
        : prepare(db, "SELECT * FROM releases ORDER BY created_at DESC").all()) as Release[],
    delete: async (app, version) =>
      void prepare(db, "DELETE FROM releases WHERE app = ? AND version = ?").run(app, version),
  };
}

function groupRepo(db: Database): GroupRepo {
  const get = prepare(db, "SELECT * FROM groups WHERE name = ?");
  return {
    delete: async (name) => void prepare(db, "DELETE FROM groups WHERE name = ?").run(name),
    ensure: async (name) => {
      prepare(db, "INSERT OR IGNORE INTO groups (name) VALUES (?)").run(name);
      return get.get(name) as GroupRecord;
    },
    get: async (name) => (get.get(name) as GroupRecord | undefined) ?? null,
    list: async () => prepare(db, "SELECT * FROM groups ORDER BY name").all() as GroupRecord[],
    update: async (name, patch) => {
      const { sql, values } = setClause(patch);
      if (sql) prepare(db, `UPDATE groups SET ${sql} WHERE name = @name`).run({ ...values, name });
    },
  };
}

const SERVER_COLUMNS = { group: "grp" };

function toServer(row: Row | undefined): ServerRecord | null {
  if (!row) return null;
  const { grp, app_healthy, in_service, ...rest } = row;
  return {
    ...(rest as Omit<ServerRecord, "group" | "app_healthy" | "in_service">),
    group: grp as string,
    app_healthy: Boolean(app_healthy),
    in_service: Boolean(in_service),
  };
}

function serverRepo(db: Database): ServerRepo {
  return {
    insert: async (server) => {
      const { sql, values } = setClause(server as unknown as Row, SERVER_COLUMNS);
      const cols = sql.split(", ").map((s) => s.split(" = ")[0]);
      const params = sql.split(", ").map((s) => s.split(" = ")[1]);
      try {
        prepare(db, `INSERT INTO servers (${cols.join(", ")}) VALUES (${params.join(", ")})`).run(
          values,
        );
      } catch (err) {
        throw new StrataError("conflict", `[server] server ${server.name} exists already`, {
          cause: err,
        });
      }
    },
    get: async (name) =>
      toServer(prepare(db, "SELECT * FROM servers WHERE name = ?").get(name) as Row),
    getByTokenHash: async (hash) =>
      toServer(
        prepare(
          db,
          "SELECT * FROM servers WHERE token_hash = @hash OR pending_token_hash = @hash OR previous_token_hash = @hash",
        ).get({ hash }) as Row,
      ),
    getByJoinTokenHash: async (hash) =>
      toServer(
        prepare(
          db,
          "SELECT * FROM servers WHERE join_token_hash = ? AND state != 'terminated'",
        ).get(hash) as Row,
      ),
    list: async (group) =>
      (group
        ? db
            .prepare("SELECT * FROM servers WHERE grp = ? AND state != 'terminated' ORDER BY name")
            .all(group)
        : prepare(db, "SELECT * FROM servers WHERE state != 'terminated' ORDER BY name").all()
      ).map((r) => toServer(r as Row) as ServerRecord),
    update: async (name, patch) => {
      const { sql, values } = setClause(patch as Row, SERVER_COLUMNS);
      if (sql) prepare(db, `UPDATE servers SET ${sql} WHERE name = @name`).run({ ...values, name });
    },
    usedAddresses: async () =>
      db
        .prepare("SELECT address FROM servers WHERE state != 'terminated'")
        .all()
        .map((r) => (r as { address: string }).address),
    launches: async (group, limit) =>
      (
        prepare(
          db,
          "SELECT launched_at, in_service_at FROM servers WHERE grp = ? AND launched_at IS NOT NULL ORDER BY launched_at DESC LIMIT ?",
        ).all(group, limit) as { launched_at: number; in_service_at: number | null }[]
      ).reverse(),
  };
}

const DEPLOYMENT_COLUMNS = { group: "grp" };

function toDeployment(row: Row | undefined): DeploymentRecord | null {
  if (!row) return null;
  const { grp, ...rest } = row;
  return { ...(rest as Omit<DeploymentRecord, "group">), group: grp as string };
}

function toDeploymentServer(row: Row): DeploymentServerRecord {
  return { ...(row as unknown as DeploymentServerRecord), steps: JSON.parse(row.steps as string) };
}

function deploymentRepo(db: Database): DeploymentRepo {
  const insertDeployment = prepare(
    db,
    `INSERT INTO deployments (id, app, grp, version, release, previous_release, kind, strategy, batch,
       max_failures, state, error, waves, created_at, finished_at)
     VALUES (@id, @app, @group, @version, @release, @previous_release, @kind, @strategy, @batch,
       @max_failures, @state, @error, @waves, @created_at, @finished_at)`,
  );
  const insertServer = prepare(
    db,
    `INSERT INTO deployment_servers (deployment_id, server, wave, state, error, steps)
     VALUES (@deployment_id, @server, @wave, @state, @error, @steps)`,
  );
  return {
    insert: async (deployment, servers) => {
      db.transaction(() => {
        insertDeployment.run(deployment);
        for (const s of servers) insertServer.run({ ...s, steps: JSON.stringify(s.steps) });
      })();
    },
    get: async (id) =>
      toDeployment(prepare(db, "SELECT * FROM deployments WHERE id = ?").get(id) as Row),
    list: async (filter = {}) => {
      const where: string[] = [];
      if (filter.app) where.push("app = @app");
      if (filter.group) where.push("grp = @group");
      const sql = `SELECT * FROM deployments ${where.length ? "WHERE " + where.join(" AND ") : ""}
        ORDER BY created_at DESC, rowid DESC LIMIT @limit`;
      return db
        .prepare(sql)
        .all({ app: filter.app, group: filter.group, limit: filter.limit ?? 100 })
        .map((r) => toDeployment(r as Row) as DeploymentRecord);
    },
    running: async (app, group) =>
      toDeployment(
        db
          .prepare("SELECT * FROM deployments WHERE app = ? AND grp = ? AND state = 'running'")
          .get(app, group) as Row,
      ),
    update: async (id, patch) => {
      const { sql, values } = setClause(patch as Row, DEPLOYMENT_COLUMNS);
      if (sql) prepare(db, `UPDATE deployments SET ${sql} WHERE id = @id`).run({ ...values, id });
    },
    servers: async (id) =>
      db
        .prepare("SELECT * FROM deployment_servers WHERE deployment_id = ? ORDER BY wave, server")
        .all(id)
        .map((r) => toDeploymentServer(r as Row)),
    updateServers: async (id, servers, patch) => {
      const { sql, values } = setClause(patch as Row);
      if (!sql) return;
      const statement = prepare(
        db,
        `UPDATE deployment_servers SET ${sql} WHERE deployment_id = @id AND server = @server`,
      );
      db.transaction(() => {
        for (const server of servers) statement.run({ ...values, id, server });
      })();
    },
    updateServer: async (id, server, patch) => {
      const { sql, values } = setClause(patch as Row);
      if (sql)
        prepare(
          db,
          `UPDATE deployment_servers SET ${sql} WHERE deployment_id = @id AND server = @server`,
        ).run({ ...values, id, server });
    },
  };
}

function desiredRepo(db: Database): DesiredRepo {
  const get = prepare(db, "SELECT * FROM desired_state WHERE server = ?");
  const put = prepare(
    db,
    `INSERT INTO desired_state (server, generation, release, stage, stopped, restart)
     VALUES (@server, @generation, @release, @stage, @stopped, @restart)
     ON CONFLICT (server) DO UPDATE SET generation = excluded.generation, release = excluded.release,
       stage = excluded.stage, stopped = excluded.stopped, restart = excluded.restart`,
  );
  const insertLock = prepare(
    db,
    "INSERT INTO coordinator_locks (name, owner) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
  );
  const lockOwner = prepare(db, "SELECT owner FROM coordinator_locks WHERE name = ?");
  const deleteLock = prepare(db, "DELETE FROM coordinator_locks WHERE name = ? AND owner = ?");
  type Row = Omit<DesiredRecord, "stopped"> & { stopped: number };
  const fromRow = (row: Row): DesiredRecord => ({ ...row, stopped: row.stopped === 1 });
  const toRow = (record: DesiredRecord) => ({ ...record, stopped: record.stopped ? 1 : 0 });
  const putAll = db.transaction((records: DesiredRecord[]) => {
    for (const record of records) put.run(toRow(record));
  });
  const remove = prepare(db, "DELETE FROM desired_state WHERE server = ?");
  const removeAll = db.transaction((servers: string[]) => {
    for (const server of servers) remove.run(server);
  });
  return {
    get: async (server) => {
      const row = get.get(server) as Row | undefined;
      return row ? fromRow(row) : null;
    },
    async getMany(servers) {
      const found: DesiredRecord[] = [];
      // SQLite binds at most 32,766 parameters per statement.
      for (let i = 0; i < servers.length; i += 10_000) {
        const part = servers.slice(i, i + 10_000);
        const sql = `SELECT * FROM desired_state WHERE server IN (${part.map(() => "?").join(",")})`;
        found.push(...(db.prepare(sql).all(...part) as Row[]).map(fromRow));
      }
      return found;
    },
    put: async (record) => void put.run(toRow(record)),
    putMany: async (records) => void putAll(records),
    insertLock: async (name, owner) => insertLock.run(name, owner).changes === 1,
    lockOwner: async (name) =>
      (lockOwner.get(name) as { owner: string } | undefined)?.owner ?? null,
    deleteLock: async (name, owner) => void deleteLock.run(name, owner),
    deleteMany: async (servers) => void removeAll(servers),
  };
}

function secretRepo(db: Database): SecretRepo {
  const put = prepare(
    db,
    `INSERT INTO secrets (app, key, sealed, updated_at) VALUES (@app, @key, @sealed, @updated_at)
     ON CONFLICT (app, key) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
  );
  const remove = prepare(db, "DELETE FROM secrets WHERE app = ? AND key = ?");
  const list = prepare(db, "SELECT * FROM secrets WHERE app = ? ORDER BY key");
  const removeApp = prepare(db, "DELETE FROM secrets WHERE app = ?");
  return {
    put: async (record) => void put.run(record),
    delete: async (app, key) => remove.run(app, key).changes === 1,
    list: async (app) => list.all(app) as SecretRecord[],
    deleteApp: async (app) => removeApp.run(app).changes,
  };
}

function apiTokenRepo(db: Database): ApiTokenRepo {
  return {
    insert: async (token) => {
      try {
        prepare(
          db,
          "INSERT INTO api_tokens (name, role, token_hash, created_at, revoked_at) VALUES (@name, @role, @token_hash, @created_at, @revoked_at)",
        ).run(token);
      } catch (err) {
        throw new StrataError("conflict", `[server] a token named ${token.name} exists already`, {
          cause: err,
        });
      }
    },
    getByHash: async (hash) =>
      (prepare(db, "SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL").get(
        hash,
      ) as ApiTokenRecord | undefined) ?? null,
    list: async () =>
      prepare(db, "SELECT * FROM api_tokens ORDER BY name").all() as ApiTokenRecord[],
    revoke: async (name, at) =>
      prepare(db, "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL").run(
        at,
        name,
      ).changes > 0,
  };
}

function toAuditEntry(row: Row): ChainedAuditEntry {
  return { ...(row as unknown as ChainedAuditEntry), detail: JSON.parse(row.detail as string) };
}

/** Hashes entries written before migration 006 added the chain, oldest first. Idempotent. */
function chainUnhashedAudit(db: Database): void {
  const unhashed = prepare(db, "SELECT COUNT(*) AS n FROM audit_log WHERE hash IS NULL").get() as {
    n: number;
  };
  if (unhashed.n === 0) return;
  const set = prepare(db, "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?");
  db.transaction(() => {
    let prev = AUDIT_GENESIS;
    for (const row of prepare(db, "SELECT * FROM audit_log ORDER BY id").all() as Row[]) {
      const entry = toAuditEntry(row);
      if (entry.hash === null) {
        entry.hash = auditHash(entry, prev);
        set.run(prev, entry.hash, entry.id);
      }
      prev = entry.hash;
    }
  }).immediate();
}

function auditRepo(db: Database): AuditRepo {
  chainUnhashedAudit(db);
  const insert = prepare(
    db,
    `INSERT INTO audit_log (id, at, actor, action, subject, detail, prev_hash, hash)
     VALUES (@id, @at, @actor, @action, @subject, @detail, @prev_hash, @hash)`,
  );
  const last = prepare(db, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1");
  // IMMEDIATE: the write lock before reading the newest hash, also against another process.
  const append = db.transaction((entry: Omit<AuditEntry, "id">) => {
    const newest = last.get() as { id: number; hash: string } | undefined;
    const detail = JSON.parse(JSON.stringify(entry.detail ?? {})) as Record<string, unknown>;
    const chained = { ...entry, detail, id: (newest?.id ?? 0) + 1 };
    const prev_hash = newest?.hash ?? AUDIT_GENESIS;
    insert.run({
      ...chained,
      detail: JSON.stringify(detail),
      prev_hash,
      hash: auditHash(chained, prev_hash),
    });
  });
  const scan = prepare(db, "SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?");
  return {
    append: async (entry) => append.immediate(entry),
    list: async (filter = {}) =>
      db
        .prepare(
          `SELECT * FROM audit_log ${filter.subject ? "WHERE subject = @subject" : ""} ORDER BY id DESC LIMIT @limit`,
        )
        .all({ subject: filter.subject, limit: filter.limit ?? 200 })
        .map((r) => toAuditEntry(r as Row)),
    verify: () =>
      verifyAuditChain(
        scanAll(async (after, limit) => scan.all(after, limit).map((r) => toAuditEntry(r as Row))),
      ),
  };
}
