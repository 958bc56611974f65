import type { ReleaseSigner } from "../artifact/signing.js";
import type { Balancer } from "../balancer/balancer.js";
import type { Coordinator } from "../coord/coordinator.js";
import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { ServerRecord, Store } from "../store/store.js";
import type {
  AgentReport,
  DesiredRelease,
  Heartbeat,
  JoinRequest,
  JoinResponse,
} from "../wire/agent.js";
import { hashToken, newToken, sameSecret } from "./tokens.js";

export interface FleetOptions {
  store: Store;
  coordinator: Coordinator;
  balancer: Balancer;
  clock: Clock;
  /**
   * A join token any agent may join with under any new name. Off (null) by
   * default: servers then join only with the single-use token issued for them
   * at launch (or by `strata tokens join`). @default null
   */
  clusterJoinToken?: string | null;
  /** How long an issued join token stays valid. @default 3600000 (1 h) */
  joinTokenTtlMs?: number;
  /** Signs the releases handed to agents; its public key goes out at join. */
  signer?: ReleaseSigner;
  /** Ensures the group's balancer pool exists (and remembers its port). */
  ensurePool: (group: string) => Promise<void>;
  /** A server with no heartbeat for this long is offline and out of service. @default 15000 */
  heartbeatTimeoutMs?: number;
  /** Longest wait for in-flight requests when a member leaves the balancer. @default 10000 */
  drainMs?: number;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Receives every agent report once it is recorded (the deployer waits on them). */
  onReport?: (server: string, report: AgentReport) => void;
}

/** What an issued join token binds: the instance it was made for. */
export interface JoinGrant {
  name: string;
  group: string;
  /** The address the provider gave the instance, once known; a join from another is refused. */
  address?: string;
}

/**
 * Servers as the control plane sees them: identity (join tokens bound to the
 * instance launched, per-agent tokens), heartbeats and reports, and the rule
 * that decides who is in the load balancer.
 */
export class Fleet {
  readonly #options: FleetOptions;
  readonly #heldOut = new Set<string>();
  #sweeper: NodeJS.Timeout | null = null;
  /** Heartbeats older than this were sent to a control plane that is gone: not held against the agent. */
  #startedAt = 0;
  /** Kept in memory: a size is news only until the next heartbeat. */
  readonly #storeBytes = new Map<string, number>();
  /** Serialises membership changes per server. */
  readonly #syncing = new Map<string, Promise<void>>();

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  start(): void {
    const timeout = this.#options.heartbeatTimeoutMs ?? 15_000;
    this.#startedAt = this.#options.clock.now();
    this.#sweeper = setInterval(() => void this.#sweep(timeout), Math.max(200, timeout / 3));
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
  }

  /**
   * Issues a single-use join token for one server (recorded as `launching`
   * until its agent joins). Called before the provider launches the instance,
   * so the token can travel in its user data. Returns the token; only its hash is kept.
   */
  async issueJoinToken(grant: JoinGrant): Promise<string> {
    const { store, clock } = this.#options;
    const token = newToken();
    const patch = {
      join_token_hash: hashToken(token),
      join_expires_at: clock.now() + (this.#options.joinTokenTtlMs ?? 3_600_000),
    };
    const existing = await store.servers.get(grant.name);
    if (existing && existing.state !== "terminated") {
      if (existing.group !== grant.group) {
        throw new StrataError(
          "conflict",
          `[fleet] ${grant.name} belongs to group ${existing.group}, not ${grant.group}`,
        );
      }
      if (existing.token_hash) {
        throw new StrataError(
          "conflict",
          `[fleet] ${grant.name} has joined already; revoke its token first (strata tokens revoke ${grant.name})`,
        );
      }
      await store.servers.update(grant.name, {
        ...patch,
        ...(grant.address ? { address: grant.address } : {}),
      });
    } else {
      if (existing) throw terminatedName(grant.name);
      await store.groups.ensure(grant.group);
      await store.servers.insert({
        ...emptyServer(grant.name, grant.group, grant.address ?? "", clock.now(), null),
        ...patch,
      });
    }
    await this.#options.audit("token.join.issue", grant.name, { group: grant.group });
    return token;
  }

  /** Refuses a join token that is neither the cluster token nor an unexpired issued one. Reads nothing else. */
  async checkJoinToken(token: string): Promise<void> {
    if (this.#isClusterToken(token)) return;
    const server = await this.#options.store.servers.getByJoinTokenHash(hashToken(token));
    if (!server || (server.join_expires_at ?? 0) < this.#options.clock.now()) {
      throw new StrataError("unauthorized", "[fleet] join: invalid or expired join token");
    }
  }

  async join(req: JoinRequest & { join_token: string }): Promise<JoinResponse> {
    const { store, coordinator, clock } = this.#options;
    const token = newToken();
    const bound = req.join_token
      ? await store.servers.getByJoinTokenHash(hashToken(req.join_token))
      : null;
    let server: ServerRecord | null;
    if (bound) {
      if ((bound.join_expires_at ?? 0) < clock.now())
        throw new StrataError("unauthorized", "[fleet] join: the join token has expired");
      if (bound.name !== req.name || bound.group !== req.group) {
        throw new StrataError(
          "unauthorized",
          `[fleet] join: this token was issued for ${bound.name} in ${bound.group}, not ${req.name} in ${req.group}`,
        );
      }
      if (bound.address && bound.address !== req.address) {
        throw new StrataError(
          "unauthorized",
          `[fleet] join: ${req.name} was launched at ${bound.address}, not ${req.address}`,
        );
      }
      await store.servers.update(req.name, {
        token_hash: hashToken(token),
        join_token_hash: null,
        join_expires_at: null,
        address: req.address,
        state: "joined",
        last_heartbeat: clock.now(),
      });
      server = await store.servers.get(req.name);
    } else if (this.#isClusterToken(req.join_token)) {
      server = await this.#joinWithClusterToken(req, token);
    } else {
      throw new StrataError("unauthorized", "[fleet] join: invalid or expired join token");
    }
    await this.#options.ensurePool(req.group);
    const group = await store.groups.ensure(req.group);
    const desired = await coordinator.desired(req.name);
    if (!desired.release && group.desired_release) {
      const release = await this.describe(group.desired_release);
      await coordinator.setDesired(req.name, release);
    }
    await this.#options.audit("agent.join", req.name, {
      group: req.group,
      address: req.address,
      via: bound ? "issued token" : "cluster token",
    });
    const key = this.#options.signer?.publicKey;
    return { server: server!.name, token, ...(key ? { release_key: key } : {}) };
  }

  /** The cluster token may add new servers, never take over one that has joined from elsewhere. */
  async #joinWithClusterToken(req: JoinRequest, token: string): Promise<ServerRecord | null> {
    const { store, clock } = this.#options;
    const existing = await store.servers.get(req.name);
    if (existing && existing.state !== "terminated") {
      if (existing.group !== req.group) {
        throw new StrataError(
          "conflict",
          `[fleet] join: ${req.name} belongs to group ${existing.group}, not ${req.group}`,
        );
      }
      if (existing.token_hash && existing.address !== req.address) {
        throw new StrataError(
          "conflict",
          `[fleet] join: ${req.name} has joined from ${existing.address}; revoke its token before it joins again`,
        );
      }
      await store.servers.update(req.name, {
        token_hash: hashToken(token),
        address: req.address,
        state: ["launching", "offline"].includes(existing.state) ? "joined" : existing.state,
        last_heartbeat: clock.now(),
      });
    } else {
      if (existing) throw terminatedName(req.name);
      await store.groups.ensure(req.group);
      await store.servers.insert(
        emptyServer(req.name, req.group, req.address, clock.now(), hashToken(token)),
      );
    }
    return store.servers.get(req.name);
  }

  #isClusterToken(token: string): boolean {
    const cluster = this.#options.clusterJoinToken ?? null;
    return cluster !== null && token !== "" && sameSecret(token, cluster);
  }

  /** The server a per-agent token belongs to. */
  async authenticate(token: string): Promise<ServerRecord> {
    const server = token
      ? await this.#options.store.servers.getByTokenHash(hashToken(token))
      : null;
    if (!server || server.state === "terminated") {
      throw new StrataError("unauthorized", "[server] unknown or revoked agent token");
    }
    return server;
  }

  /** Revokes a server's agent token (and any unused join token): it must be issued a new one to join again. */
  async revoke(name: string): Promise<void> {
    const server = await this.#options.store.servers.get(name);
    if (!server) throw new StrataError("not_found", `[fleet] no server ${name}`);
    await this.#options.store.servers.update(name, {
      token_hash: null,
      join_token_hash: null,
      join_expires_at: null,
      state: "offline",
      app_healthy: false,
    });
    await this.#options.audit("token.revoke", name, {});
    await this.sync(name);
  }

  /** Bytes in a server's file store as its last heartbeat to this control plane said; null before one. */
  storeBytes(name: string): number | null {
    return this.#storeBytes.get(name) ?? null;
  }

  async heartbeat(server: ServerRecord, hb: Heartbeat): Promise<void> {
    const now = this.#options.clock.now();
    if (hb.store_bytes !== undefined) this.#storeBytes.set(server.name, hb.store_bytes);
    const desired = await this.#options.coordinator.desired(server.name);
    // A healthy app on the desired release is ready, whether a report or a
    // heartbeat says so first (a server booted from a current image may
    // heartbeat before its reconcile reports), and after an offline spell.
    const onDesired =
      hb.app_healthy &&
      hb.current_release !== null &&
      hb.current_release === (desired.release?.id ?? null);
    const settled = ["offline", "launching", "joined"].includes(server.state);
    await this.#options.store.servers.update(server.name, {
      last_heartbeat: now,
      current_release: hb.current_release,
      app_healthy: hb.app_healthy,
      app_port: hb.app_port,
      ...(settled ? { state: onDesired ? "ready" : "joined" } : {}),
      ...(settled && onDesired && !server.ready_at ? { ready_at: now } : {}),
    });
    await this.sync(server.name);
  }

  async report(server: ServerRecord, report: AgentReport): Promise<void> {
    const now = this.#options.clock.now();
    // A staged release changes nothing that runs: only the deployer cares.
    if (report.phase === "staged") {
      await this.#options.store.servers.update(server.name, { last_heartbeat: now });
      this.#options.onReport?.(server.name, report);
      return;
    }
    const converged = report.phase === "converged" && report.release_id !== null;
    await this.#options.store.servers.update(server.name, {
      last_heartbeat: now,
      current_release: report.current_release,
      state: converged
        ? "ready"
        : report.phase === "failed"
          ? "failed"
          : report.phase === "working"
            ? "deploying"
            : "joined",
      ...(report.app_port ? { app_port: report.app_port } : {}),
      // A failure that switched nothing leaves the running app as it was (healthy or not).
      ...(report.phase === "working" ||
      (report.phase === "failed" && report.current_release === server.current_release)
        ? {}
        : { app_healthy: converged }),
      ...(converged && !server.ready_at ? { ready_at: now } : {}),
    });
    this.#options.onReport?.(server.name, report);
    if (report.phase !== "working") await this.sync(server.name);
  }

  /** Keeps servers out of the balancer while a deployment works on them. */
  async holdOut(names: string[]): Promise<void> {
    for (const name of names) this.#heldOut.add(name);
    await Promise.all(names.map((name) => this.sync(name)));
  }

  async letIn(names: string[]): Promise<void> {
    for (const name of names) this.#heldOut.delete(name);
    await Promise.all(names.map((name) => this.sync(name)));
  }

  /**
   * Puts a server in or takes it out of its group's balancer: in service means
   * healthy, on its desired release, heartbeating and not held out.
   */
  sync(name: string): Promise<void> {
    const previous = this.#syncing.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.#sync(name)).catch(() => undefined);
    this.#syncing.set(name, next);
    return next;
  }

  async #sync(name: string): Promise<void> {
    const { store, balancer, clock, coordinator } = this.#options;
    const server = await store.servers.get(name);
    if (!server) return;
    const desired = await coordinator.desired(name);
    const serve =
      server.state !== "terminated" &&
      server.state !== "offline" &&
      server.token_hash !== null &&
      server.app_healthy &&
      server.app_port !== null &&
      server.current_release !== null &&
      server.current_release === (desired.release?.id ?? null) &&
      !this.#heldOut.has(name);
    const member = { id: name, address: server.address, port: server.app_port! };
    if (serve && !server.in_service) {
      await this.#options.ensurePool(server.group);
      await balancer.addMember(server.group, member);
      // The first service-in only: a return after a deploy is not a launch's lag.
      await store.servers.update(name, {
        in_service: true,
        in_service_at: server.in_service_at ?? clock.now(),
      });
      await this.#options.audit("server.in_service", name, { group: server.group });
    } else if (!serve && server.in_service) {
      await store.servers.update(name, { in_service: false });
      await this.#options.audit("server.out_of_service", name, { group: server.group });
      await balancer.removeMember(server.group, name, { drainMs: this.#options.drainMs ?? 10_000 });
    } else if (serve) {
      await balancer.addMember(server.group, member);
    }
  }

  describe(releaseId: string): Promise<DesiredRelease | null> {
    return describeRelease(this.#options.store, releaseId, this.#options.signer);
  }

  async #sweep(timeoutMs: number): Promise<void> {
    const { store, clock } = this.#options;
    const cutoff = clock.now() - timeoutMs;
    for (const server of await store.servers.list()) {
      if (server.state === "offline" || server.state === "launching") continue;
      // Regression: after a restart every heartbeat on record predates this process, and the
      // first sweep took the whole fleet out of service before any agent could reach it.
      const last = Math.max(server.last_heartbeat ?? 0, this.#startedAt);
      if (server.last_heartbeat !== null && last < cutoff) {
        await store.servers.update(server.name, { state: "offline", app_healthy: false });
        await this.#options.audit("server.offline", server.name, {});
        await this.sync(server.name);
      }
    }
  }
}

/** Names are never reused: the audit log and the images launched keep pointing at the old server. */
function terminatedName(name: string): StrataError {
  return new StrataError(
    "conflict",
    `[fleet] ${name} is the name of a terminated server; pick another name`,
  );
}

/** What an agent needs to fetch a release. */
export async function describeRelease(
  store: Store,
  releaseId: string,
  signer?: ReleaseSigner,
): Promise<DesiredRelease | null> {
  const release = await store.releases.getById(releaseId);
  if (!release) return null;
  const { id, app, version, size } = release;
  const manifest = { id, app, version, size };
  return {
    ...manifest,
    artifact_path: `/v1/releases/${release.id}/artifact`,
    ...(signer ? { signature: signer.sign(manifest) } : {}),
  };
}

export function emptyServer(
  name: string,
  group: string,
  address: string,
  now: number,
  tokenHash: string | null,
): ServerRecord {
  return {
    id: name,
    name,
    group,
    address,
    provider_id: null,
    state: tokenHash ? "joined" : "launching",
    root: null,
    token_hash: tokenHash,
    join_token_hash: null,
    join_expires_at: null,
    current_release: null,
    app_port: null,
    app_healthy: false,
    in_service: false,
    last_heartbeat: tokenHash ? now : null,
    image: null,
    launched_at: now,
    ready_at: null,
    in_service_at: null,
  };
}
