import type { ForecastRepo } from "./forecast-repo.js";
import type { ImageRepo } from "./image-repo.js";
import type { SecretRepo } from "./secret-repo.js";
import type { TrafficRepo } from "./traffic-repo.js";
import type { Release } from "../wire/release.js";
import type { ServerState } from "../wire/server.js";
import type {
  DeploymentKind,
  DeploymentServerState,
  DeploymentState,
  StepReport,
  Strategy,
} from "../wire/deployment.js";

/**
 * Durable state of the control plane. The embedded implementation is SQLite;
 * every method is async so that PostgreSQL can implement the same interface.
 * Methods may be called concurrently; each is one transaction unless noted.
 */
export interface Store {
  releases: ReleaseRepo;
  groups: GroupRepo;
  servers: ServerRepo;
  deployments: DeploymentRepo;
  audit: AuditRepo;
  tokens: ApiTokenRepo;
  /** The embedded Coordinator's durable desired state; nothing else reads it. */
  desired: DesiredRepo;
  images: ImageRepo;
  traffic: TrafficRepo;
  forecasts: ForecastRepo;
  /** Apps' secrets, sealed: the store never holds a value in plaintext. */
  secrets: SecretRepo;
  /** Closes connections. Called once at shutdown; nothing may be called after. */
  close(): Promise<void>;
}

export interface ReleaseRepo {
  /** Records a release. Idempotent for the same (app, version, id); a different id for an existing (app, version) is a conflict. */
  insert(release: Release): Promise<void>;
  get(app: string, version: string): Promise<Release | null>;
  getById(id: string): Promise<Release | null>;
  list(app?: string): Promise<Release[]>;
  /** Forgets app@version (`strata release rm`; the caller checks it is unused). Idempotent. */
  delete(app: string, version: string): Promise<void>;
}

export interface GroupRecord {
  name: string;
  app: string | null;
  desired_release: string | null;
  /** Release that was desired before the last successful deployment, for `rollback`. */
  previous_release: string | null;
  balancer_port: number | null;
}

export interface GroupRepo {
  /** Creates the group when missing; returns it either way. Idempotent. */
  ensure(name: string): Promise<GroupRecord>;
  get(name: string): Promise<GroupRecord | null>;
  list(): Promise<GroupRecord[]>;
  update(name: string, patch: Partial<Omit<GroupRecord, "name">>): Promise<void>;
  /** Forgets the group (`strata group rm`; its servers are gone first). Idempotent. */
  delete(name: string): Promise<void>;
}

export interface ServerRecord {
  id: string;
  name: string;
  group: string;
  address: string;
  /** Provider's own id for the instance. */
  provider_id: string | null;
  state: ServerState;
  root: string | null;
  /** sha256 of the per-agent token; the token itself is never stored. */
  token_hash: string | null;
  /** When the current agent token was issued (its age); null before rotation was recorded. */
  token_issued_at: number | null;
  /** sha256 of a new agent token handed out and not used yet; its first use makes it current. */
  pending_token_hash: string | null;
  /** sha256 of the token a rotation replaced, valid until `previous_token_until`. */
  previous_token_hash: string | null;
  previous_token_until: number | null;
  /** When an operator asked that the next heartbeat rotate the token (strata tokens rotate). */
  rotate_requested_at: number | null;
  /** sha256 of the single-use join token issued for this server at launch; cleared at join. */
  join_token_hash: string | null;
  join_expires_at: number | null;
  current_release: string | null;
  app_port: number | null;
  app_healthy: boolean;
  in_service: boolean;
  last_heartbeat: number | null;
  image: string | null;
  launched_at: number | null;
  ready_at: number | null;
  in_service_at: number | null;
}

export type Role = "admin" | "deployer" | "viewer";

export interface ApiTokenRecord {
  name: string;
  role: Role;
  /** sha256 of the token; the token itself is shown once, at creation. */
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ApiTokenRepo {
  /** Adds a token; a name in use (even revoked) is a conflict. */
  insert(token: ApiTokenRecord): Promise<void>;
  /** The unrevoked token with this hash. */
  getByHash(hash: string): Promise<ApiTokenRecord | null>;
  list(): Promise<ApiTokenRecord[]>;
  /** Marks the token revoked; returns false when there is no such unrevoked token. */
  revoke(name: string, at: number): Promise<boolean>;
}

export interface DesiredRecord {
  server: string;
  generation: number;
  release: string | null;
  stage: string | null;
  /** The app should not run (`strata app stop`) until started again. */
  stopped: boolean;
  /** Id of the last restart asked (`strata app restart`). */
  restart: string | null;
}

/** The embedded Coordinator's durable state: per-server desired state and durable locks. */
export interface DesiredRepo {
  get(server: string): Promise<DesiredRecord | null>;
  /** The records of those of `servers` that have one, in any order. One query. */
  getMany(servers: string[]): Promise<DesiredRecord[]>;
  /** Inserts or replaces the server's record. */
  put(record: DesiredRecord): Promise<void>;
  /** Inserts or replaces each record, all in one transaction (a deploy's wave set-up). */
  putMany(records: DesiredRecord[]): Promise<void>;
  /** Records `owner` as the holder of the durable lock `name`; false when someone holds it. Atomic. */
  insertLock(name: string, owner: string): Promise<boolean>;
  /** Holder of the durable lock `name`, or null. */
  lockOwner(name: string): Promise<string | null>;
  /** Frees the durable lock `name` if `owner` holds it. Idempotent. */
  deleteLock(name: string, owner: string): Promise<void>;
  /** Deletes the records of `servers` (gone for good: `group rm`), in one transaction. Idempotent. */
  deleteMany(servers: string[]): Promise<void>;
}

export interface ServerRepo {
  /** Inserts a new server; the name must be unused. */
  insert(server: ServerRecord): Promise<void>;
  get(name: string): Promise<ServerRecord | null>;
  /** The server holding this agent token: its current, pending or previous one. */
  getByTokenHash(hash: string): Promise<ServerRecord | null>;
  /** The live server a single-use join token was issued for. */
  getByJoinTokenHash(hash: string): Promise<ServerRecord | null>;
  /** Live servers (not terminated) of a group, or all groups, ordered by name. */
  list(group?: string): Promise<ServerRecord[]>;
  update(name: string, patch: Partial<Omit<ServerRecord, "id" | "name">>): Promise<void>;
  /** Addresses ever handed out, so a new server never reuses a live one's. */
  usedAddresses(): Promise<string[]>;
  /**
   * Launch and first service-in times of the group's `limit` newest launches, terminated
   * servers included, oldest first. Read by the scaler's lead time. Read-only.
   */
  launches(
    group: string,
    limit: number,
  ): Promise<{ launched_at: number; in_service_at: number | null }[]>;
}

export interface DeploymentRecord {
  id: string;
  app: string;
  group: string;
  version: string;
  release: string;
  previous_release: string | null;
  kind: DeploymentKind;
  strategy: Strategy;
  batch: string;
  max_failures: number;
  state: DeploymentState;
  error: string | null;
  waves: number;
  created_at: number;
  finished_at: number | null;
}

export interface DeploymentServerRecord {
  deployment_id: string;
  server: string;
  wave: number;
  state: DeploymentServerState;
  error: string | null;
  steps: StepReport[];
}

export interface DeploymentRepo {
  insert(deployment: DeploymentRecord, servers: DeploymentServerRecord[]): Promise<void>;
  get(id: string): Promise<DeploymentRecord | null>;
  /** Newest first. */
  list(filter?: { app?: string; group?: string; limit?: number }): Promise<DeploymentRecord[]>;
  /** The running deployment of (app, group), if any. */
  running(app: string, group: string): Promise<DeploymentRecord | null>;
  update(id: string, patch: Partial<Omit<DeploymentRecord, "id">>): Promise<void>;
  servers(id: string): Promise<DeploymentServerRecord[]>;
  /** The same patch for several servers of a deployment, in one transaction. */
  updateServers(
    id: string,
    servers: string[],
    patch: Partial<Omit<DeploymentServerRecord, "deployment_id" | "server">>,
  ): Promise<void>;
  updateServer(
    id: string,
    server: string,
    patch: Partial<Omit<DeploymentServerRecord, "deployment_id" | "server">>,
  ): Promise<void>;
}

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
}

/** An entry as stored: linked to the one before it by hash (see audit-chain.ts). */
export interface ChainedAuditEntry extends AuditEntry {
  /** `hash` of the previous entry; 64 zeros for the first. */
  prev_hash: string;
  /** sha256 (hex) of this entry's id, content and `prev_hash`. */
  hash: string;
}

/** What `verify` found. */
export interface AuditVerification {
  ok: boolean;
  /** Entries that verified before the first broken one (all of them when ok). */
  entries: number;
  /** Hash of the last verified entry; null for an empty log. Record it to detect truncation later. */
  head: string | null;
  /** The first entry that breaks the chain, and why; null when ok. */
  broken: { id: number; reason: string } | null;
}

/**
 * Append-only: there is no update or delete, and every entry carries the hash
 * of the one before it, so an edit, a deletion or a reordering made directly
 * in the database is found by `verify`.
 */
export interface AuditRepo {
  /** Appends one entry, chained to the newest. May run concurrently (appends are serialised). */
  append(entry: Omit<AuditEntry, "id">): Promise<void>;
  /** Newest first. */
  list(filter?: { subject?: string; limit?: number }): Promise<ChainedAuditEntry[]>;
  /** Recomputes the whole chain, oldest first. Read-only; may run concurrently with appends. */
  verify(): Promise<AuditVerification>;
}
