import type { ReleaseSigner } from "../artifact/signing.js";
import type { Balancer } from "../balancer/balancer.js";
import type { Cluster, Coordinator } from "../coord/coordinator.js";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { ServerRecord, Store } from "../store/store.js";
import type {
  AgentReport,
  DesiredRelease,
  Heartbeat,
  JoinRequest,
  JoinResponse,
} from "../wire/agent.js";
import { joinsStopped } from "./group-stopped.js";
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
  /**
   * Several replicas: every heartbeat (and report, and join) renews the
   * server's membership lease, on whichever replica it arrives, and the sweep
   * calls offline the servers whose lease lapsed, so that every replica agrees.
   * Without it (one control plane) the sweep reads the store's last heartbeat.
   */
  membership?: Pick<Cluster, "touch" | "members">;
  /** Longest wait for in-flight requests when a member leaves the balancer. @default 10000 */
  drainMs?: number;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Agent token age at which a heartbeat asks the agent to rotate. @default 2592000000 (30 d) */
  tokenRotateAfterMs?: number;
  /** How long a replaced agent token works after the new one's first use. @default 60000 */
  tokenGraceMs?: number;
  /** Receives the reports agents sent to this replica (per-replica metrics). */
  onReceived?: (server: string, report: AgentReport) => void;
}

/** Receives an agent report once it is recorded. */
export type ReportListener = (server: string, report: AgentReport) => void;

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
  #sweeper: NodeJS.Timeout | null = null;
  /** Heartbeats older than this were sent to a control plane that is gone: not held against the agent. */
  #startedAt = 0;
  /** Kept in memory: a size is news only until the next heartbeat. */
  readonly #storeBytes = new Map<string, number>();
  /** Serialises membership changes per server. */
  readonly #syncing = new Map<string, Promise<void>>();
  readonly #reportListeners = new Set<ReportListener>();
  /** First uses of a rotated token under way, by server: concurrent requests promote it once. */
  readonly #promoting = new Map<string, Promise<ServerRecord>>();
  #unsubscribe: (() => void) | null = null;

  constructor(options: FleetOptions) {
    this.#options = options;
  }

  start(): void {
    const timeout = this.#timeoutMs();
    this.#startedAt = this.#options.clock.now();
    // Reports are heard through the Coordinator: whichever replica an agent sent one to.
    this.#unsubscribe = this.#options.coordinator.subscribeReports((server, report) => {
      for (const listener of this.#reportListeners) listener(server, report);
    });
    // A sweep that cannot read (the store or etcd away) calls nobody offline; the next one tries again.
    const sweep = () =>
      this.#sweep(timeout).catch((err: unknown) => {
        console.error(`[fleet] sweep: ${messageOf(err)}`);
      });
    this.#sweeper = setInterval(() => void sweep(), Math.max(200, timeout / 3));
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  /**
   * Calls `listener` with every agent report once it is recorded, whichever
   * replica the agent sent it to (the deployer waits on them), in subscription
   * order, once the fleet has started. Returns the function that unsubscribes.
   */
  subscribeReports(listener: ReportListener): () => void {
    this.#reportListeners.add(listener);
    return () => void this.#reportListeners.delete(listener);
  }

  /**
   * Issues a join token for one server (recorded as `launching` until its
   * agent joins); the first use of the agent token it is exchanged for spends it. Called before the provider launches the instance,
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
      // The join token stays valid until this agent token's first use (authenticate), so an
      // agent killed after this answer but before it saved the token can join again.
      await store.servers.update(req.name, {
        ...freshToken(token, clock.now()),
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
      // Regression: a server that joined a stopped group started its app.
      const stopped = await joinsStopped(store, req.group);
      await coordinator.setDesired(req.name, release, stopped ? { run: { stopped } } : {});
    }
    await this.#alive(req.name);
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
        ...freshToken(token, clock.now()),
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

  /**
   * The server a per-agent token belongs to: its current token, the new one of
   * a rotation (whose first use makes it current) or, within its grace, the one
   * a rotation replaced.
   */
  async authenticate(token: string): Promise<ServerRecord> {
    const hash = token ? hashToken(token) : "";
    const server = hash ? await this.#options.store.servers.getByTokenHash(hash) : null;
    if (server && server.state !== "terminated") {
      if (server.token_hash === hash) return server.join_token_hash ? this.#spend(server) : server;
      if (server.pending_token_hash === hash) return this.#promote(server);
      const until = server.previous_token_until ?? 0;
      if (server.previous_token_hash === hash && until >= this.#options.clock.now()) return server;
    }
    throw new StrataError("unauthorized", "[server] unknown or revoked agent token");
  }

  /**
   * A new agent token for `server`, asked for by its agent over its
   * authenticated channel. The current token keeps working until the new one
   * is first used, then for the grace; asking again replaces a new token not used yet.
   */
  async rotateToken(server: ServerRecord): Promise<string> {
    const token = newToken();
    await this.#options.store.servers.update(server.name, { pending_token_hash: hashToken(token) });
    await this.#options.audit("token.agent.issue", server.name, { group: server.group });
    return token;
  }

  /** Whether the server's next heartbeat should ask its agent to rotate: asked for, or the token is old. */
  rotationDue(server: ServerRecord): boolean {
    const after = this.#options.tokenRotateAfterMs ?? 30 * 86_400_000;
    if (server.rotate_requested_at !== null || server.token_issued_at === null) return true;
    return this.#options.clock.now() - server.token_issued_at >= after;
  }

  /**
   * Makes the next heartbeat of one server, or of every server of a group,
   * ask its agent to rotate its token. Returns the names asked.
   */
  async requestRotation(target: { server: string } | { group: string }): Promise<string[]> {
    const { store, clock, audit } = this.#options;
    const servers =
      "server" in target
        ? [await store.servers.get(target.server)].filter((s) => s !== null)
        : await store.servers.list(target.group);
    const joined = servers.filter((s) => s.state !== "terminated" && s.token_hash !== null);
    if (joined.length === 0) {
      const where = "server" in target ? target.server : `group ${target.group}`;
      throw new StrataError("not_found", `[fleet] tokens rotate: no joined server in ${where}`);
    }
    for (const server of joined) {
      await store.servers.update(server.name, { rotate_requested_at: clock.now() });
      await audit("token.agent.rotate_request", server.name, { group: server.group });
    }
    return joined.map((s) => s.name);
  }

  /** The first use of the agent token a join issued spends the join token: it joins no more. */
  async #spend(server: ServerRecord): Promise<ServerRecord> {
    const patch = { join_token_hash: null, join_expires_at: null };
    await this.#options.store.servers.update(server.name, patch);
    return { ...server, ...patch };
  }

  #promote(server: ServerRecord): Promise<ServerRecord> {
    const under = this.#promoting.get(server.name);
    if (under) return under;
    const { store, clock, audit } = this.#options;
    const promotion = (async () => {
      const now = clock.now();
      const patch = {
        token_hash: server.pending_token_hash,
        pending_token_hash: null,
        previous_token_hash: server.token_hash,
        previous_token_until: now + (this.#options.tokenGraceMs ?? 60_000),
        token_issued_at: now,
        rotate_requested_at: null,
      };
      await store.servers.update(server.name, patch);
      await audit("token.agent.rotate", server.name, {
        group: server.group,
        ...(server.token_issued_at !== null ? { age_ms: now - server.token_issued_at } : {}),
        requested: server.rotate_requested_at !== null,
      });
      return { ...server, ...patch };
    })().finally(() => this.#promoting.delete(server.name));
    this.#promoting.set(server.name, promotion);
    return promotion;
  }

  /** Revokes a server's agent token (and any unused join token): it must be issued a new one to join again. */
  async revoke(name: string): Promise<void> {
    const server = await this.#options.store.servers.get(name);
    if (!server) throw new StrataError("not_found", `[fleet] no server ${name}`);
    await this.#options.store.servers.update(name, {
      token_hash: null,
      pending_token_hash: null,
      previous_token_hash: null,
      previous_token_until: null,
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
    await this.#alive(server.name);
    await this.sync(server.name);
  }

  #alive(name: string): Promise<void> {
    return this.#options.membership?.touch(name, this.#timeoutMs()) ?? Promise.resolve();
  }

  #timeoutMs(): number {
    return this.#options.heartbeatTimeoutMs ?? 15_000;
  }

  async report(server: ServerRecord, report: AgentReport): Promise<void> {
    const now = this.#options.clock.now();
    // A staged release changes nothing that runs: only the deployer cares.
    if (report.phase === "staged") {
      await this.#options.store.servers.update(server.name, { last_heartbeat: now });
      await this.#publish(server.name, report);
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
    await this.#publish(server.name, report);
    if (report.phase !== "working") await this.sync(server.name);
  }

  /** Answered to the agent only once published: a report it was told is in is never lost. */
  async #publish(server: string, report: AgentReport): Promise<void> {
    this.#options.onReceived?.(server, report);
    await Promise.all([
      this.#options.coordinator.publishReport(server, report),
      this.#alive(server),
    ]);
  }

  /**
   * Keeps servers out of the balancer while a deployment works on them. The hold
   * is the Coordinator's, so no replica lets them in before `letIn`.
   */
  async holdOut(names: string[]): Promise<void> {
    await this.#options.coordinator.holdOut(names);
    await Promise.all(names.map((name) => this.sync(name)));
  }

  async letIn(names: string[]): Promise<void> {
    await this.#options.coordinator.letIn(names);
    await Promise.all(names.map((name) => this.sync(name)));
  }

  /**
   * Puts a server in or takes it out of its group's balancer: in service means
   * healthy, on its desired release, heartbeating, not stopped and not held out.
   */
  sync(name: string): Promise<void> {
    const previous = this.#syncing.get(name) ?? Promise.resolve();
    // The next heartbeat tries again; a balancer or store that keeps failing is worth a line.
    const next = previous
      .then(() => this.#sync(name))
      .catch((err: unknown) => {
        console.error(
          `[fleet] ${name}: cannot put it in or take it out of service: ${messageOf(err)}`,
        );
      });
    this.#syncing.set(name, next);
    return next;
  }

  async #sync(name: string): Promise<void> {
    const { store, balancer, clock, coordinator } = this.#options;
    const server = await store.servers.get(name);
    if (!server) return;
    // Both at once: a serving server's heartbeat needs both, one round trip each on etcd.
    const [desired, held] = await Promise.all([
      coordinator.desired(name),
      coordinator.heldOut(name),
    ]);
    // Regression: the hold lived in the deploying replica's memory, and another replica that
    // heard a held server's final report put it back in service while its wave was drained.
    const serve =
      server.state !== "terminated" &&
      server.state !== "offline" &&
      server.token_hash !== null &&
      server.app_healthy &&
      server.app_port !== null &&
      server.current_release !== null &&
      server.current_release === (desired.release?.id ?? null) &&
      desired.stopped !== true &&
      !held;
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
    const { store, clock, membership } = this.#options;
    const cutoff = clock.now() - timeoutMs;
    const alive = membership ? new Set(await membership.members()) : null;
    for (const server of await store.servers.list()) {
      if (server.state === "offline" || server.state === "launching") continue;
      // Regression: after a restart every heartbeat on record predates this process, and the
      // first sweep took the whole fleet out of service before any agent could reach it.
      const last = Math.max(server.last_heartbeat ?? 0, this.#startedAt);
      // With leases the lease decides, not timestamps that several replicas' clocks wrote.
      const gone = alive
        ? !alive.has(server.name) && this.#startedAt < cutoff
        : server.last_heartbeat !== null && last < cutoff;
      if (gone) {
        await store.servers.update(server.name, { state: "offline", app_healthy: false });
        await this.#options.audit("server.offline", server.name, {});
        await this.sync(server.name);
      }
    }
  }
}

/** The columns of a token issued at join: it alone is valid, and its age starts now. */
function freshToken(token: string, now: number) {
  return {
    token_hash: hashToken(token),
    token_issued_at: now,
    pending_token_hash: null,
    previous_token_hash: null,
    previous_token_until: null,
    rotate_requested_at: null,
  };
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
    token_issued_at: tokenHash ? now : null,
    pending_token_hash: null,
    previous_token_hash: null,
    previous_token_until: null,
    rotate_requested_at: null,
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
