import { EventEmitter } from "node:events";
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
  joinToken: string;
  /** Ensures the group's balancer pool exists (and remembers its port). */
  ensurePool: (group: string) => Promise<void>;
  /** A server with no heartbeat for this long is offline and out of service. @default 15000 */
  heartbeatTimeoutMs?: number;
  /** Longest wait for in-flight requests when a member leaves the balancer. @default 10000 */
  drainMs?: number;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

export interface FleetEvents {
  report: [server: string, report: AgentReport];
}

/**
 * Servers as the control plane sees them: agent join, heartbeats and reports,
 * and the rule that decides who is in the load balancer.
 */
export class Fleet extends EventEmitter<FleetEvents> {
  readonly #options: FleetOptions;
  readonly #heldOut = new Set<string>();
  #sweeper: NodeJS.Timeout | null = null;
  /** Serialises membership changes per server. */
  readonly #syncing = new Map<string, Promise<void>>();

  constructor(options: FleetOptions) {
    super();
    this.setMaxListeners(0);
    this.#options = options;
  }

  start(): void {
    const timeout = this.#options.heartbeatTimeoutMs ?? 15_000;
    this.#sweeper = setInterval(() => void this.#sweep(timeout), Math.max(200, timeout / 3));
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
  }

  async join(req: JoinRequest): Promise<JoinResponse> {
    const { store, coordinator, clock } = this.#options;
    if (!req.join_token || !sameSecret(req.join_token, this.#options.joinToken)) {
      throw new StrataError("unauthorized", "[server] join: invalid join token");
    }
    for (const key of ["name", "group", "address"] as const) {
      if (typeof req[key] !== "string" || !req[key]) {
        throw new StrataError("bad_request", `[server] join: ${key} is required`);
      }
    }
    const token = newToken();
    const existing = await store.servers.get(req.name);
    if (existing && existing.group !== req.group) {
      throw new StrataError(
        "conflict",
        `[server] join: ${req.name} belongs to group ${existing.group}, not ${req.group}`,
      );
    }
    const group = await store.groups.ensure(req.group);
    await this.#options.ensurePool(req.group);
    if (existing) {
      await store.servers.update(req.name, {
        token_hash: hashToken(token),
        address: req.address,
        state:
          existing.state === "launching" || existing.state === "offline"
            ? "joined"
            : existing.state,
        last_heartbeat: clock.now(),
      });
    } else {
      await store.servers.insert(
        emptyServer(req.name, req.group, req.address, clock.now(), hashToken(token)),
      );
    }
    const server = (await store.servers.get(req.name))!;
    if (!server.desired_release && group.desired_release) {
      const release = await this.describe(group.desired_release);
      await coordinator.setDesired(req.name, release);
    }
    await this.#options.audit("agent.join", req.name, { group: req.group, address: req.address });
    return { server: req.name, token };
  }

  /** The server a per-agent token belongs to. */
  async authenticate(token: string): Promise<ServerRecord> {
    const server = await this.#options.store.servers.getByTokenHash(hashToken(token));
    if (!server || server.state === "terminated") {
      throw new StrataError("unauthorized", "[server] unknown or revoked agent token");
    }
    return server;
  }

  async heartbeat(server: ServerRecord, hb: Heartbeat): Promise<void> {
    const now = this.#options.clock.now();
    // A healthy app on the desired release is ready, whether a report or a
    // heartbeat says so first (a server booted from a current image may
    // heartbeat before its reconcile reports), and after an offline spell.
    const onDesired =
      hb.app_healthy &&
      hb.current_release !== null &&
      hb.current_release === server.desired_release;
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
      ...(report.phase === "working" ? {} : { app_healthy: converged }),
      ...(converged && !server.ready_at ? { ready_at: now } : {}),
    });
    this.emit("report", server.name, report);
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
    const { store, balancer, clock } = this.#options;
    const server = await store.servers.get(name);
    if (!server) return;
    const serve =
      server.state !== "terminated" &&
      server.state !== "offline" &&
      server.app_healthy &&
      server.app_port !== null &&
      server.current_release !== null &&
      server.current_release === server.desired_release &&
      !this.#heldOut.has(name);
    if (serve && !server.in_service) {
      await this.#options.ensurePool(server.group);
      await balancer.addMember(server.group, {
        id: name,
        address: server.address,
        port: server.app_port!,
      });
      await store.servers.update(name, { in_service: true, in_service_at: clock.now() });
      await this.#options.audit("server.in_service", name, { group: server.group });
    } else if (!serve && server.in_service) {
      await store.servers.update(name, { in_service: false });
      await this.#options.audit("server.out_of_service", name, { group: server.group });
      await balancer.removeMember(server.group, name, { drainMs: this.#options.drainMs ?? 10_000 });
    } else if (serve) {
      await balancer.addMember(server.group, {
        id: name,
        address: server.address,
        port: server.app_port!,
      });
    }
  }

  describe(releaseId: string): Promise<DesiredRelease | null> {
    return describeRelease(this.#options.store, releaseId);
  }

  async #sweep(timeoutMs: number): Promise<void> {
    const { store, clock } = this.#options;
    const cutoff = clock.now() - timeoutMs;
    for (const server of await store.servers.list()) {
      if (server.state === "offline" || server.state === "launching") continue;
      if (server.last_heartbeat !== null && server.last_heartbeat < cutoff) {
        await store.servers.update(server.name, { state: "offline", app_healthy: false });
        await this.#options.audit("server.offline", server.name, {});
        await this.sync(server.name);
      }
    }
  }
}

/** What an agent needs to fetch a release. */
export async function describeRelease(
  store: Store,
  releaseId: string,
): Promise<DesiredRelease | null> {
  const release = await store.releases.getById(releaseId);
  if (!release) return null;
  return {
    id: release.id,
    app: release.app,
    version: release.version,
    size: release.size,
    artifact_path: `/v1/releases/${release.id}/artifact`,
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
    current_release: null,
    desired_release: null,
    desired_generation: 0,
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
