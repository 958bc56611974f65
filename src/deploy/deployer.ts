import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Coordinator, Lock, RunChange } from "../coord/coordinator.js";
import type { Clock } from "../lib/clock.js";
import { isoTime } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type {
  DeploymentRecord,
  DeploymentServerRecord,
  GroupRecord,
  ServerRecord,
  Store,
} from "../store/store.js";
import type { AgentReport, DesiredRelease, DesiredState } from "../wire/agent.js";
import type { GroupLock } from "../wire/lock.js";
import type { Release } from "../wire/release.js";
import {
  APP_ACTIONS,
  type AppAction,
  type AppActionRequest,
  type DeployRequest,
  type DeploymentEvent,
  type DeploymentKind,
  type DeploymentServerState,
  type DeploymentView,
  type RollbackRequest,
  type Strategy,
} from "../wire/deployment.js";
import { isGroupStopped } from "../fleet/group-stopped.js";
import { batchSize, planWaves, STRATEGIES } from "./plan.js";

/** What the deployer needs of the fleet: service-out and service-in, and what agents fetch. */
export interface DeployFleet {
  /** Takes servers out of the balancer (draining in-flight requests) and keeps them out. Idempotent. */
  holdOut(names: string[]): Promise<void>;
  /** Lets servers back in once they are healthy on their desired release. Idempotent. */
  letIn(names: string[]): Promise<void>;
  describe(releaseId: string): Promise<DesiredRelease | null>;
}

export interface DeployerOptions {
  store: Store;
  coordinator: Coordinator;
  fleet: DeployFleet;
  clock: Clock;
  /** Longest wait for one server to converge (or stage) in a wave. @default 600000 */
  serverTimeoutMs?: number;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Called after a deployment succeeded (the image baker listens here). */
  onSucceeded?: (deployment: DeploymentRecord) => void;
  /**
   * Stage the release on every server before any wave leaves the balancer.
   * Off only to measure what staging saves (bench/out-of-service.bench.ts). @default true
   */
  stageFirst?: boolean;
  /** Called after each wave with whether every server of it converged (metrics listen here). */
  onWave?: (deployment: DeploymentRecord, wave: number, ok: boolean) => void;
}

type Outcome = { ok: true } | { ok: false; error: string };

const FINAL: readonly DeploymentServerState[] = ["succeeded", "failed", "rolled_back", "skipped"];

/**
 * Runs deployments: stages the release on every server while they serve,
 * then runs the waves (service-out, switch, service-in), waits on agents and
 * rolls back by the deployment's rules. Every step is persisted, so a
 * deployment left running by a crash resumes where it stood.
 */
export class Deployer {
  readonly #o: DeployerOptions;
  readonly #events = new Map<string, EventEmitter<{ event: [DeploymentEvent] }>>();
  readonly #running = new Map<string, Promise<void>>();
  /** Deployments asked to stop after their current wave. */
  readonly #cancelled = new Set<string>();

  /** The wave waiting on each server's reports: one lookup per report, however large the wave. */
  readonly #awaiting = new Map<string, (report: AgentReport) => void>();
  /** Set by `stop()`: running deployments halt where they stand, as after a crash, and resume at next start. */
  #stopping = false;
  readonly #stops = new Set<() => void>();

  constructor(options: DeployerOptions) {
    this.#o = options;
  }

  /** Hands an agent's report to the wave waiting on that server. Called by the fleet for every report. */
  onReport(server: string, report: AgentReport): void {
    this.#awaiting.get(server)?.(report);
  }

  /** Validates and starts a deployment; returns at once with it in `running`. */
  async start(req: DeployRequest): Promise<DeploymentView> {
    const checked = await this.#check(req);
    const id = `d-${this.#o.clock.now().toString(36)}-${randomUUID().slice(0, 6)}`;
    const lock = await this.#lockGroup(req, id);
    try {
      const { record, rows } = await this.#plan(id, req, checked);
      await this.#record(record, rows, checked.group);
      this.#launch(record, lock.release, rows);
      return viewOf(record, rows);
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /** Refuses a request that cannot run: bad options, a locked or unknown group, no such release. */
  async #check(req: DeployRequest): Promise<Checked> {
    const { store } = this.#o;
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
    // Independent reads at once; refused in the order of the checks below.
    const [maintenance, release, group, servers] = await Promise.all([
      this.lockStatus(req.group),
      store.releases.get(req.app, req.version),
      store.groups.get(req.group),
      store.servers.list(req.group),
    ]);
    if (maintenance) {
      throw new StrataError(
        "conflict",
        `[deploy] group ${req.group} is locked for maintenance since ${maintenance.since}: ${maintenance.message} (\`strata lock release --group ${req.group}\`)`,
      );
    }
    if (!release) {
      throw new StrataError(
        "not_found",
        `[deploy] no release ${req.app}@${req.version}; run \`strata build\` first`,
      );
    }
    // Regression (issue 15): a typo'd group was created on the spot and "succeeded in 0.0 s".
    if (!group) {
      const known = (await store.groups.list()).map((g) => g.name);
      throw new StrataError(
        "not_found",
        `[deploy] no group ${req.group}${known.length ? ` (groups: ${known.join(", ")})` : ""}; launch servers with \`strata fleet up --group ${req.group}\``,
      );
    }
    if (group.app && group.app !== req.app) {
      throw new StrataError(
        "conflict",
        `[deploy] group ${req.group} runs app ${group.app}, not ${req.app}`,
      );
    }
    // A new release would start a stopped app behind the stop's back.
    if ((req.kind ?? "deploy") !== "start" && (await this.#stopped(servers))) {
      throw new StrataError(
        "conflict",
        `[deploy] the app of group ${req.group} is stopped; \`strata app start --group ${req.group}\` first`,
      );
    }
    return { strategy, batch, maxFailures, release, group, servers };
  }

  /** One deployment per (app, group) at a time, across replicas: the Coordinator's lock. */
  async #lockGroup(req: DeployRequest, id: string): Promise<Lock> {
    const { coordinator } = this.#o;
    const lockName = `deploy/${req.app}/${req.group}`;
    const lock = await coordinator.tryLock(lockName, id);
    if (lock) return lock;
    const owner = await coordinator.lockOwner(lockName);
    throw new StrataError(
      "conflict",
      `[deploy] deployment ${owner} of ${req.app} to ${req.group} is still running; wait for it or watch it with \`strata deployments show ${owner}\``,
    );
  }

  /** The deployment and its per-server rows: reachable servers in waves, the rest skipped. */
  async #plan(
    id: string,
    req: DeployRequest,
    { strategy, batch, maxFailures, release, group, servers }: Checked,
  ): Promise<{ record: DeploymentRecord; rows: DeploymentServerRecord[] }> {
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
      created_at: this.#o.clock.now(),
      finished_at: null,
    };
    const rows: DeploymentServerRecord[] = [
      ...waves.flatMap((names, wave) =>
        names.map((server) => row(id, server, wave + 1, "pending")),
      ),
      ...servers
        .filter((s) => !reachable.includes(s))
        .map((s) => ({ ...row(id, s.name, 0, "skipped"), error: "offline or not joined" })),
    ];
    return { record, rows };
  }

  /** Persists the new deployment (one transaction for its rows) and audits its start. */
  async #record(
    record: DeploymentRecord,
    rows: DeploymentServerRecord[],
    group: Checked["group"],
  ): Promise<void> {
    const { store } = this.#o;
    await store.deployments.insert(record, rows);
    await Promise.all([
      group.app ? null : store.groups.update(record.group, { app: record.app }),
      this.#o.audit(`${record.kind}.start`, `${record.app}/${record.group}`, {
        deployment: record.id,
        version: record.version,
        release: record.release,
        strategy: record.strategy,
        batch: record.batch,
        waves: record.waves,
      }),
    ]);
  }

  /**
   * Restarts, stops or starts the app on a group's servers without a new release: a
   * deployment of kind `action` on the release the group runs, in waves, each drained
   * from the balancer first, resumed after a restart like any deployment.
   */
  async operate(group: string, action: AppAction, req: AppActionRequest): Promise<DeploymentView> {
    const { store } = this.#o;
    const record = await store.groups.get(group);
    if (!record) throw new StrataError("not_found", `[deploy] no group ${group}`);
    const release = record.desired_release
      ? await store.releases.getById(record.desired_release)
      : null;
    if (!record.app || !release) {
      throw new StrataError("conflict", `[deploy] nothing is deployed to group ${group} yet`);
    }
    return this.start({ ...req, app: record.app, version: release.version, group, kind: action });
  }

  /** Whether any of the group's servers is asked to keep its app stopped: one batch of reads. */
  #stopped(servers: ServerRecord[]): Promise<boolean> {
    return isGroupStopped(this.#o.coordinator, servers);
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

  /**
   * Stops a running deployment after its current wave and rolls back every
   * server it switched, as a failed wave would. Idempotent while it runs.
   */
  async cancel(id: string): Promise<DeploymentView> {
    const view = await this.view(id);
    if (!view) throw new StrataError("not_found", `[deploy] no deployment ${id}`);
    if (view.state !== "running" || !this.#running.has(id))
      throw new StrataError("conflict", `[deploy] deployment ${id} is ${view.state}, not running`);
    if (!this.#cancelled.has(id))
      await this.#o.audit("deploy.cancel", `${view.app}/${view.group}`, { deployment: id });
    this.#cancelled.add(id);
    return view;
  }

  /**
   * A maintenance window: deployments to the group are refused until unlock. A durable
   * lock in the Coordinator: it outlives a restart of the control plane.
   */
  async lock(group: string, message: string): Promise<GroupLock> {
    const owner = JSON.stringify({ message, since: isoTime(this.#o.clock.now()) });
    const lock = await this.#o.coordinator.tryLock(`maintenance/${group}`, owner, {
      durable: true,
    });
    if (!lock) {
      const held = (await this.lockStatus(group))!;
      throw new StrataError(
        "conflict",
        `[deploy] group ${group} is locked already since ${held.since}: ${held.message}`,
      );
    }
    await this.#o.audit("lock.acquire", group, { message });
    return (await this.lockStatus(group))!;
  }

  async unlock(group: string): Promise<void> {
    const name = `maintenance/${group}`;
    const owner = await this.#o.coordinator.lockOwner(name);
    if (!owner) throw new StrataError("not_found", `[deploy] group ${group} is not locked`);
    await this.#o.coordinator.releaseLock(name, owner);
    await this.#o.audit("lock.release", group, {});
  }

  async lockStatus(group: string): Promise<GroupLock | null> {
    const owner = await this.#o.coordinator.lockOwner(`maintenance/${group}`);
    return owner ? { group, ...(JSON.parse(owner) as { message: string; since: string }) } : null;
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
    return viewOf(d, await this.#o.store.deployments.servers(id));
  }

  /** Subscribes to a deployment's events; returns an unsubscribe function. */
  subscribe(id: string, listener: (event: DeploymentEvent) => void): () => void {
    const emitter = this.#emitter(id);
    emitter.on("event", listener);
    return () => emitter.off("event", listener);
  }

  /**
   * Halts running deployments where they stand without finishing them (their
   * persisted state is what the next start resumes from). Called at shutdown
   * before the store closes. Idempotent.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const stop of [...this.#stops]) stop();
    await Promise.all(this.#running.values());
  }

  /** Resolves when every running deployment has finished (for shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.all(this.#running.values());
  }

  /**
   * Resumes deployments a previous process left running, from their persisted
   * server states: a deployment never stays half way. Called once at start.
   */
  async recover(): Promise<void> {
    const { store, coordinator } = this.#o;
    for (const d of await store.deployments.list({ limit: 1000 })) {
      if (d.state !== "running") continue;
      const lock = await coordinator.tryLock(`deploy/${d.app}/${d.group}`, d.id);
      if (!lock) continue; // another replica runs it
      await this.#o.audit(`${d.kind}.resume`, `${d.app}/${d.group}`, { deployment: d.id });
      // Wake-ups lost with the old process: stages and switches it asked for are asked again.
      const staging = (await store.deployments.servers(d.id)).filter((r) => r.state === "staging");
      await coordinator.setStageMany(names(staging), null);
      this.#launch(d, lock.release);
    }
  }

  /** Runs `d` in the background; `rows` are its server rows when the caller has them at hand. */
  #launch(d: DeploymentRecord, unlock: () => Promise<void>, rows?: DeploymentServerRecord[]): void {
    const run = this.#run(d, rows)
      .catch(async (err) => {
        if (this.#stopping) return;
        await this.#finish(d, "failed", `[deploy] internal error: ${(err as Error).message}`);
      })
      .catch(() => undefined)
      .finally(() => {
        void unlock();
        this.#running.delete(d.id);
        this.#cancelled.delete(d.id);
      });
    this.#running.set(d.id, run);
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

  async #setServers(
    d: DeploymentRecord,
    servers: string[],
    state: DeploymentServerState,
    patch: { error?: string | null } = {},
  ): Promise<void> {
    if (servers.length === 0) return;
    await this.#o.store.deployments.updateServers(d.id, servers, { state, ...patch });
    for (const server of servers) this.#emit(d.id, { type: "server", server, state });
  }

  /** Records each server's outcome: one write for those that made it, one per distinct error. */
  async #settle(
    d: DeploymentRecord,
    servers: string[],
    outcomes: Outcome[],
    ok: DeploymentServerState,
  ): Promise<void> {
    await this.#setServers(
      d,
      servers.filter((_, i) => outcomes[i]!.ok),
      ok,
    );
    const failed = new Map<string, string[]>();
    for (const [i, name] of servers.entries()) {
      const outcome = outcomes[i]!;
      if (!outcome.ok) failed.set(outcome.error, [...(failed.get(outcome.error) ?? []), name]);
    }
    await Promise.all(
      [...failed].map(([error, group]) => this.#setServers(d, group, "failed", { error })),
    );
  }

  /** Runs (or resumes) a deployment from the server states in the store (or `initial`, just written). */
  async #run(d: DeploymentRecord, initial?: DeploymentServerRecord[]): Promise<void> {
    const { store, coordinator } = this.#o;
    const target = await this.#o.fleet.describe(d.release);
    if (!target) return this.#finish(d, "failed", `[deploy] release ${d.release} is gone`);
    let rows = initial ?? (await store.deployments.servers(d.id));
    const failedCount = () => rows.filter((r) => r.state === "failed").length;

    if (rows.some((r) => r.state === "rolling_back")) {
      return this.#rollBack(d, rows, d.error ?? "[deploy] resumed a rollback");
    }

    // 1. Stage everywhere at once, while every server still serves: a bad
    // artifact fails here, before anything leaves the balancer.
    const toStage = rows.filter(
      (r) =>
        this.#o.stageFirst !== false &&
        !isAppAction(d.kind) &&
        r.wave > 0 &&
        (r.state === "pending" || r.state === "staging"),
    );
    if (toStage.length > 0) {
      const listed = this.#servers(d.group); // read while the rows are written
      listed.catch(() => undefined); // awaited below, after the write
      await this.#setServers(d, names(toStage), "staging");
      const outcomes = await this.#stage(d, names(toStage), target, await listed);
      this.#halt();
      await this.#settle(d, names(toStage), outcomes, "staged");
      rows = await store.deployments.servers(d.id);
      if (failedCount() > d.max_failures) {
        await this.#skipRest(d, rows, "not deployed: staging failed elsewhere");
        await this.#clearStages(rows);
        const first = rows.find((r) => r.state === "failed");
        return this.#finish(d, "failed", `${first?.server}: ${first?.error}`);
      }
    }

    // 2. Waves: out of service, switch, restart, health check, back in.
    for (let wave = 1; wave <= d.waves; wave++) {
      const members = rows.filter(
        (r) => r.wave === wave && !FINAL.includes(r.state) && r.state !== "failed",
      );
      if (members.length === 0) continue;
      const waveNames = names(members);
      this.#emit(d.id, { type: "wave", wave, servers: waveNames });
      // Only servers in service drain; the rest (a first deploy, a failed server) go straight on.
      const serving = await this.#servers(d.group);
      await this.#setServers(
        d,
        waveNames.filter((name) => serving.get(name)?.in_service === true),
        "draining",
      );
      await this.#o.fleet.holdOut(waveNames);
      await this.#setServers(d, waveNames, "deploying");
      const outcomes = await this.#converge(d, waveNames, target, true);
      this.#halt();
      await this.#settle(d, waveNames, outcomes, "succeeded");
      await this.#o.fleet.letIn(waveNames.filter((_, i) => outcomes[i]!.ok));
      this.#o.onWave?.(
        d,
        wave,
        outcomes.every((o) => o.ok),
      );
      rows = await store.deployments.servers(d.id);
      if (failedCount() > d.max_failures) {
        const first = rows.find((r) => r.state === "failed");
        return this.#rollBack(d, rows, `${first?.server}: ${first?.error}`);
      }
      if (this.#cancelled.has(d.id)) {
        return this.#rollBack(d, rows, "[deploy] cancelled by the operator");
      }
    }

    // 3. Done: the group's desired release moves, servers that were away are told.
    const group = await store.groups.get(d.group);
    await store.groups.update(d.group, {
      desired_release: d.release,
      previous_release:
        group?.desired_release === d.release
          ? group.previous_release
          : (group?.desired_release ?? null),
    });
    const run = runChangeOf(d);
    await coordinator.setDesiredMany(
      names(rows.filter((r) => r.wave === 0)),
      target,
      run ? { run } : {},
    );
    // Servers that joined during the deployment (a scale-out) got the release desired when
    // they joined; the desired state, not the waves, brings them along: out of the balancer
    // first, back in once their agent reports the new release healthy.
    const planned = new Set(rows.map((r) => r.server));
    const late: string[] = [];
    for (const s of await store.servers.list(d.group)) {
      if (planned.has(s.name)) continue;
      if (run || (await coordinator.desired(s.name)).release?.id !== d.release) late.push(s.name);
    }
    if (late.length > 0) {
      await this.#o.fleet.holdOut(late);
      await coordinator.setDesiredMany(late, target, run ? { run } : {});
      await this.#o.fleet.letIn(late);
    }
    await this.#clearStages(rows);
    const failures = failedCount();
    await this.#finish(
      d,
      "succeeded",
      failures > 0 ? `${failures} server(s) failed within --max-failures ${d.max_failures}` : null,
    );
    if (!run) this.#o.onSucceeded?.((await store.deployments.get(d.id))!);
  }

  /** Servers the deployment never reached, after it stopped: say so rather than leave them pending. */
  async #skipRest(d: DeploymentRecord, rows: DeploymentServerRecord[], why: string): Promise<void> {
    const rest = rows.filter(
      (r) => r.wave > 0 && ["pending", "staging", "staged"].includes(r.state),
    );
    await this.#setServers(d, names(rest), "skipped", { error: why });
  }

  async #clearStages(rows: DeploymentServerRecord[]): Promise<void> {
    await this.#o.coordinator.setStageMany(names(rows), null);
  }

  /** The group's servers by name: one read for a whole wave. */
  async #servers(group: string): Promise<Map<string, ServerRecord>> {
    return new Map((await this.#o.store.servers.list(group)).map((s) => [s.name, s]));
  }

  /**
   * Puts every server the deployment switched back on the previous release;
   * servers that never switched are only pointed back, with no restart.
   */
  async #rollBack(
    d: DeploymentRecord,
    rows: DeploymentServerRecord[],
    error: string,
  ): Promise<void> {
    const { coordinator, fleet, store } = this.#o;
    await this.#skipRest(d, rows, "not deployed: an earlier wave failed");
    if (isAppAction(d.kind)) {
      // Nothing to roll back: the release never changed. What ran stays as it ended.
      await fleet.letIn(names(rows));
      return this.#finish(d, "failed", error);
    }
    const previous = d.previous_release ? await fleet.describe(d.previous_release) : null;
    const touched = rows.filter((r) =>
      ["draining", "deploying", "succeeded", "failed", "rolling_back"].includes(r.state),
    );
    const switched = touched.filter((r) => r.state === "rolling_back" || r.steps.some(isSwitch));
    await coordinator.setDesiredMany(names(touched.filter((r) => !switched.includes(r))), previous);
    await fleet.holdOut(names(switched));
    await Promise.all(
      switched.map(async (r) => {
        if (!(await store.servers.get(r.server))) return;
        if (!previous) {
          await coordinator.setDesired(r.server, null);
          return;
        }
        await this.#setServers(d, [r.server], "rolling_back");
        const [outcome] = await this.#converge(d, [r.server], previous, false);
        this.#halt();
        if (outcome!.ok) await this.#setServers(d, [r.server], "rolled_back");
        else await this.#setServers(d, [r.server], "failed", { error: outcome!.error });
      }),
    );
    this.#halt();
    await fleet.letIn(names(touched));
    await this.#clearStages(rows);
    await this.#finish(d, switched.length > 0 && previous ? "rolled_back" : "failed", error);
  }

  #halt(): void {
    if (this.#stopping) throw new Error("[deploy] stopping");
  }

  /** Asks servers to fetch, verify and unpack `target` (one batch) and waits for each verdict. */
  async #stage(
    d: DeploymentRecord,
    servers: string[],
    target: DesiredRelease,
    known: Map<string, ServerRecord>,
  ): Promise<Outcome[]> {
    const ask = servers.filter((name) => known.get(name)?.current_release !== target.id);
    const outcomes = await this.#awaitAll(
      d,
      ask,
      false,
      (r) => r.phase === "staged",
      () => this.#o.coordinator.setStageMany(ask, target),
    );
    const byName = new Map(ask.map((name, i) => [name, outcomes[i]!]));
    return servers.map((name) => byName.get(name) ?? { ok: true });
  }

  /** Points servers at `target` (one batch) and waits for each agent's final report. */
  #converge(
    d: DeploymentRecord,
    servers: string[],
    target: DesiredRelease,
    track: boolean,
  ): Promise<Outcome[]> {
    // The agents are woken first; the bookkeeping can follow (a first report is a network round trip away).
    return this.#awaitAll(
      d,
      servers,
      track,
      (r) => r.phase === "converged",
      () => {
        const run = runChangeOf(d);
        return this.#o.coordinator.setDesiredMany(servers, target, {
          force: true,
          ...(run ? { run } : {}),
        });
      },
    );
  }

  /**
   * Registers for the reports of `servers`, then asks (via `ask`, which returns
   * each server's new state, in order) and resolves, per server, on the first
   * final report of the generation asked for.
   */
  async #awaitAll(
    d: DeploymentRecord,
    servers: string[],
    track: boolean,
    accept: (r: AgentReport) => boolean,
    ask: () => Promise<DesiredState[]>,
  ): Promise<Outcome[]> {
    if (servers.length === 0) return [];
    const waits = servers.map((name) => this.#awaitReport(d, name, track, accept));
    try {
      const states = await ask();
      states.forEach((state, i) => waits[i]!.follow(state.generation));
    } catch (err) {
      for (const wait of waits) wait.fail((err as Error).message);
    }
    return Promise.all(waits.map((wait) => wait.outcome));
  }

  /** One server's wait: reports before `follow` names the generation are kept and replayed. */
  #awaitReport(
    d: DeploymentRecord,
    name: string,
    track: boolean,
    accept: (r: AgentReport) => boolean,
  ): { outcome: Promise<Outcome>; follow(generation: number): void; fail(error: string): void } {
    const { store } = this.#o;
    let generation = -1;
    const early: AgentReport[] = [];
    let done: (result: Outcome) => void = () => {};
    const onReport = (report: AgentReport) => {
      if (generation < 0) return void early.push(report);
      if (report.generation !== generation) return;
      if (track) {
        void store.deployments.updateServer(d.id, name, { steps: [...report.steps] });
        const step = report.steps.at(-1);
        this.#emit(d.id, {
          type: "server",
          server: name,
          state: "deploying",
          ...(step ? { step } : {}),
        });
      }
      if (accept(report)) done({ ok: true });
      else if (report.phase === "failed") done({ ok: false, error: report.error ?? "failed" });
    };
    const outcome = new Promise<Outcome>((resolve) => {
      const timeoutMs = this.#o.serverTimeoutMs ?? 600_000;
      const timer = setTimeout(
        () => done({ ok: false, error: `[deploy] no report from ${name} within ${timeoutMs} ms` }),
        timeoutMs,
      );
      const stop = () => done({ ok: false, error: "[deploy] the control plane is stopping" });
      done = (result: Outcome) => {
        clearTimeout(timer);
        this.#stops.delete(stop);
        if (this.#awaiting.get(name) === onReport) this.#awaiting.delete(name);
        resolve(result);
      };
      this.#stops.add(stop);
      this.#awaiting.set(name, onReport);
    });
    return {
      outcome,
      follow(asked) {
        generation = asked;
        for (const report of early.splice(0)) onReport(report);
      },
      fail: (error) => done({ ok: false, error }),
    };
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

/** What `#check` found: the request's options, its release, its group and its servers. */
interface Checked {
  strategy: Strategy;
  batch: string;
  maxFailures: number;
  release: Release;
  group: GroupRecord;
  /** The group's servers, listed once for the checks and the plan. */
  servers: ServerRecord[];
}

function viewOf(d: DeploymentRecord, servers: DeploymentServerRecord[]): DeploymentView {
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

const isAppAction = (kind: DeploymentKind): kind is AppAction =>
  (APP_ACTIONS as readonly string[]).includes(kind);

/** What a deployment of an app action asks of each server's app; undefined for a release change. */
function runChangeOf(d: DeploymentRecord): RunChange | undefined {
  if (d.kind === "restart") return { restart: d.id };
  if (d.kind === "stop") return { stopped: true };
  if (d.kind === "start") return { stopped: false };
  return undefined;
}

const isSwitch = (s: { name: string; state: string }) => s.name === "switch" && s.state === "ok";

const names = (rows: { server: string }[]) => rows.map((r) => r.server);

function row(
  deploymentId: string,
  server: string,
  wave: number,
  state: DeploymentServerState,
): DeploymentServerRecord {
  return { deployment_id: deploymentId, server, wave, state, error: null, steps: [] };
}
