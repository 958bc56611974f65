import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Coordinator } from "../coord/coordinator.js";
import type { Clock } from "../lib/clock.js";
import { isoTime } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { Fleet } from "../fleet/fleet.js";
import type { DeploymentRecord, DeploymentServerRecord, Store } from "../store/store.js";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import type {
  DeployRequest,
  DeploymentEvent,
  DeploymentServerState,
  DeploymentView,
  RollbackRequest,
  Strategy,
} from "../wire/deployment.js";
import { batchSize, planWaves, STRATEGIES } from "./plan.js";

export interface DeployerOptions {
  store: Store;
  coordinator: Coordinator;
  fleet: Fleet;
  clock: Clock;
  /** Longest wait for one server to converge in a wave. @default 600000 */
  serverTimeoutMs?: number;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Called after a deployment succeeded (the image baker listens here). */
  onSucceeded?: (deployment: DeploymentRecord) => void;
}

type Outcome = { ok: true } | { ok: false; error: string };

/** Runs deployments: waves, service-out/in, waiting on agents, rolling back. */
export class Deployer {
  readonly #o: DeployerOptions;
  readonly #events = new Map<string, EventEmitter<{ event: [DeploymentEvent] }>>();
  readonly #running = new Map<string, Promise<void>>();

  /** The wave waiting on each server's reports: one lookup per report, however large the wave. */
  readonly #awaiting = new Map<string, (report: AgentReport) => void>();

  constructor(options: DeployerOptions) {
    this.#o = options;
    options.fleet.on("report", (server, report) => this.#awaiting.get(server)?.(report));
  }

  /** Validates and starts a deployment; returns at once with it in `running`. */
  async start(req: DeployRequest): Promise<DeploymentView> {
    const { store, coordinator, clock } = this.#o;
    const strategy: Strategy = req.strategy ?? "rolling";
    if (!STRATEGIES.includes(strategy)) {
      throw new StrataError(
        "bad_request",
        `[deploy] strategy: unknown "${strategy}" (expected ${STRATEGIES.join(", ")})`,
      );
    }
    const batch = String(req.batch ?? "1");
    batchSize(batch, 1);
    const maxFailures = req.max_failures ?? 0;
    if (!Number.isInteger(maxFailures) || maxFailures < 0) {
      throw new StrataError("bad_request", "[deploy] max_failures: must be a whole number >= 0");
    }
    if (!req.group) throw new StrataError("bad_request", "[deploy] group is required");
    const release = await store.releases.get(req.app, req.version);
    if (!release) {
      throw new StrataError(
        "not_found",
        `[deploy] no release ${req.app}@${req.version}; run \`strata build\` first`,
      );
    }
    const group = await store.groups.ensure(req.group);
    if (group.app && group.app !== req.app) {
      throw new StrataError(
        "conflict",
        `[deploy] group ${req.group} runs app ${group.app}, not ${req.app}`,
      );
    }
    const id = `d-${clock.now().toString(36)}-${randomUUID().slice(0, 6)}`;
    const lock = await coordinator.tryLock(`deploy/${req.app}/${req.group}`, id);
    if (!lock) {
      const owner = await coordinator.lockOwner(`deploy/${req.app}/${req.group}`);
      throw new StrataError(
        "conflict",
        `[deploy] deployment ${owner} of ${req.app} to ${req.group} is still running; wait for it or watch it with \`strata deployments show ${owner}\``,
      );
    }
    try {
      const servers = await store.servers.list(req.group);
      const reachable = servers.filter((s) => s.state !== "offline" && s.token_hash !== null);
      const waves = planWaves(
        reachable.map((s) => s.name),
        strategy,
        batch,
      );
      const record: DeploymentRecord = {
        id,
        app: req.app,
        group: req.group,
        version: req.version,
        release: release.id,
        previous_release: group.desired_release,
        kind: req.kind ?? "deploy",
        strategy,
        batch,
        max_failures: maxFailures,
        state: "running",
        error: null,
        waves: waves.length,
        created_at: clock.now(),
        finished_at: null,
      };
      const rows: DeploymentServerRecord[] = [
        ...waves.flatMap((names, wave) =>
          names.map((server) => row(id, server, wave + 1, "pending")),
        ),
        ...servers.filter((s) => !reachable.includes(s)).map((s) => row(id, s.name, 0, "skipped")),
      ];
      await store.deployments.insert(record, rows);
      if (!group.app) await store.groups.update(req.group, { app: req.app });
      await this.#o.audit(`${record.kind}.start`, `${req.app}/${req.group}`, {
        deployment: id,
        version: req.version,
        release: release.id,
        strategy,
        batch,
        waves: waves.length,
      });
      const run = this.#run(
        record,
        waves,
        rows.filter((r) => r.state === "skipped").map((r) => r.server),
      )
        .catch(async (err) => {
          await this.#finish(
            record,
            "failed",
            `[deploy] internal error: ${(err as Error).message}`,
          );
        })
        .finally(() => {
          void lock.release();
          this.#running.delete(id);
        });
      this.#running.set(id, run);
      return (await this.view(id))!;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Deploys the previous (or named) release again, as a deployment of kind `rollback`. */
  async rollback(req: RollbackRequest & Partial<DeployRequest>): Promise<DeploymentView> {
    const { store } = this.#o;
    let version = req.to;
    if (!version) {
      const group = await store.groups.get(req.group);
      const target = group?.previous_release;
      if (!group || !target) {
        throw new StrataError(
          "not_found",
          `[deploy] rollback: ${req.app} on ${req.group} has no previous release`,
        );
      }
      const releases = await store.releases.list(req.app);
      version = releases.find((r) => r.id === target)?.version;
      if (!version)
        throw new StrataError("not_found", `[deploy] rollback: release ${target} is gone`);
    }
    return this.start({ ...req, version, kind: "rollback" });
  }

  /** Newest first, without per-server steps. */
  async list(filter: { app?: string; group?: string; limit?: number }): Promise<DeploymentView[]> {
    const records = await this.#o.store.deployments.list(filter);
    const views = await Promise.all(records.map((d) => this.view(d.id)));
    return views.filter((v): v is DeploymentView => v !== null);
  }

  async view(id: string): Promise<DeploymentView | null> {
    const d = await this.#o.store.deployments.get(id);
    if (!d) return null;
    const servers = await this.#o.store.deployments.servers(id);
    return {
      id: d.id,
      app: d.app,
      group: d.group,
      version: d.version,
      release: d.release,
      previous_release: d.previous_release,
      kind: d.kind,
      strategy: d.strategy,
      state: d.state,
      error: d.error,
      created_at: isoTime(d.created_at),
      finished_at: d.finished_at === null ? null : isoTime(d.finished_at),
      waves: d.waves,
      servers: servers.map((s) => ({
        name: s.server,
        wave: s.wave,
        state: s.state,
        error: s.error,
        steps: s.steps,
      })),
    };
  }

  /** Subscribes to a deployment's events; returns an unsubscribe function. */
  subscribe(id: string, listener: (event: DeploymentEvent) => void): () => void {
    const emitter = this.#emitter(id);
    emitter.on("event", listener);
    return () => emitter.off("event", listener);
  }

  /** Resolves when every running deployment has finished (for shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.all(this.#running.values());
  }

  /** Marks deployments left `running` by a previous process as failed. Called once at start. */
  async recover(): Promise<void> {
    for (const d of await this.#o.store.deployments.list({ limit: 1000 })) {
      // A held lock is a live replica running it; a lapsed one is a replica that died.
      if (d.state !== "running") continue;
      if (await this.#o.coordinator.lockOwner(`deploy/${d.app}/${d.group}`)) continue;
      await this.#finish(d, "failed", "[deploy] the control plane restarted during the deployment");
    }
  }

  #emitter(id: string): EventEmitter<{ event: [DeploymentEvent] }> {
    let emitter = this.#events.get(id);
    if (!emitter) {
      emitter = new EventEmitter();
      emitter.setMaxListeners(0);
      this.#events.set(id, emitter);
    }
    return emitter;
  }

  #emit(id: string, event: DeploymentEvent): void {
    this.#events.get(id)?.emit("event", event);
  }

  async #setServer(
    d: DeploymentRecord,
    server: string,
    state: DeploymentServerState,
    patch: { error?: string | null; steps?: AgentReport["steps"] } = {},
  ): Promise<void> {
    await this.#o.store.deployments.updateServer(d.id, server, { state, ...patch });
    this.#emit(d.id, { type: "server", server, state });
  }

  async #run(d: DeploymentRecord, waves: string[][], skipped: string[]): Promise<void> {
    const { store, coordinator, fleet } = this.#o;
    const target = (await fleet.describe(d.release)) as DesiredRelease;
    // Offline servers are told too: the desired state, not this deployment, brings them along when they return.
    for (const name of skipped) await coordinator.setDesired(name, target);
    const touched: string[] = [];
    let failures = 0;
    let failedError: string | null = null;
    for (const [index, wave] of waves.entries()) {
      this.#emit(d.id, { type: "wave", wave: index + 1, servers: wave });
      await store.deployments.updateServers(d.id, wave, { state: "draining" });
      for (const name of wave)
        this.#emit(d.id, { type: "server", server: name, state: "draining" });
      await fleet.holdOut(wave);
      touched.push(...wave);
      const outcomes = await Promise.all(
        wave.map((name) => this.#converge(d, name, target, "deploying")),
      );
      const okNames = wave.filter((_, i) => outcomes[i]!.ok);
      for (const [i, name] of wave.entries()) {
        const outcome = outcomes[i]!;
        await this.#setServer(d, name, outcome.ok ? "succeeded" : "failed", {
          error: outcome.ok ? null : outcome.error,
        });
        if (!outcome.ok) {
          failures++;
          failedError ??= `${name}: ${outcome.error}`;
        }
      }
      await fleet.letIn(okNames);
      if (failures > d.max_failures) break;
    }
    if (failures > d.max_failures) {
      await this.#rollBack(d, touched, failedError!);
      return;
    }
    const group = await store.groups.get(d.group);
    await store.groups.update(d.group, {
      desired_release: d.release,
      previous_release:
        group?.desired_release === d.release
          ? group.previous_release
          : (group?.desired_release ?? null),
    });
    await this.#finish(
      d,
      "succeeded",
      failures > 0 ? `${failures} server(s) failed within --max-failures ${d.max_failures}` : null,
    );
    this.#o.onSucceeded?.((await store.deployments.get(d.id))!);
  }

  async #rollBack(d: DeploymentRecord, touched: string[], error: string): Promise<void> {
    const { coordinator, fleet, store } = this.#o;
    const previous = d.previous_release ? await fleet.describe(d.previous_release) : null;
    const switched = new Set<string>();
    for (const row of await store.deployments.servers(d.id)) {
      if (row.steps.some((s) => s.name === "switch" && s.state === "ok")) switched.add(row.server);
    }
    await fleet.holdOut(touched);
    await Promise.all(
      touched.map(async (name) => {
        const server = await store.servers.get(name);
        if (!server) return;
        if (!previous) {
          await coordinator.setDesired(name, null);
          return;
        }
        await this.#setServer(d, name, "rolling_back");
        const outcome = await this.#converge(d, name, previous, null);
        await this.#setServer(
          d,
          name,
          outcome.ok ? "rolled_back" : "failed",
          outcome.ok ? {} : { error: outcome.error },
        );
      }),
    );
    await fleet.letIn(touched);
    await this.#finish(d, switched.size > 0 && previous ? "rolled_back" : "failed", error);
  }

  /**
   * Points one server at `target` and waits for its agent's final report.
   * `track` names the deployment-server state under which its steps are recorded.
   */
  async #converge(
    d: DeploymentRecord,
    name: string,
    target: DesiredRelease,
    track: DeploymentServerState | null,
  ): Promise<Outcome> {
    const { coordinator, store } = this.#o;
    const server = await store.servers.get(name);
    if (
      server?.current_release === target.id &&
      server.desired_release === target.id &&
      server.app_healthy
    ) {
      return { ok: true };
    }
    const steps: AgentReport["steps"] = [];
    let generation = -1;
    const outcome = new Promise<Outcome>((resolve) => {
      const timeoutMs = this.#o.serverTimeoutMs ?? 600_000;
      const timer = setTimeout(
        () => done({ ok: false, error: `[deploy] no report from ${name} within ${timeoutMs} ms` }),
        timeoutMs,
      );
      const onReport = (report: AgentReport) => {
        if (report.generation !== generation) return;
        if (track) {
          steps.splice(0, steps.length, ...report.steps);
          void store.deployments.updateServer(d.id, name, { steps: [...steps] });
          const step = report.steps.at(-1);
          this.#emit(d.id, {
            type: "server",
            server: name,
            state: track,
            ...(step ? { step } : {}),
          });
        }
        if (report.phase === "converged") done({ ok: true });
        else if (report.phase === "failed") done({ ok: false, error: report.error ?? "failed" });
      };
      const done = (result: Outcome) => {
        clearTimeout(timer);
        if (this.#awaiting.get(name) === onReport) this.#awaiting.delete(name);
        resolve(result);
      };
      this.#awaiting.set(name, onReport);
    });
    // The agent is woken first; the bookkeeping can follow (its first report is a network round trip away).
    generation = (await coordinator.setDesired(name, target, { force: true })).generation;
    if (track) await this.#setServer(d, name, track);
    return outcome;
  }

  async #finish(
    d: DeploymentRecord,
    state: DeploymentRecord["state"],
    error: string | null,
  ): Promise<void> {
    await this.#o.store.deployments.update(d.id, {
      state,
      error,
      finished_at: this.#o.clock.now(),
    });
    await this.#o.audit(`${d.kind}.${state}`, `${d.app}/${d.group}`, {
      deployment: d.id,
      version: d.version,
      ...(error ? { error } : {}),
    });
    const view = await this.view(d.id);
    if (view) this.#emit(d.id, { type: "done", deployment: view });
    this.#events.delete(d.id);
  }
}

function row(
  deploymentId: string,
  server: string,
  wave: number,
  state: DeploymentServerState,
): DeploymentServerRecord {
  return { deployment_id: deploymentId, server, wave, state, error: null, steps: [] };
}
