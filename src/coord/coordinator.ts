import type { AgentReport, DesiredRelease, DesiredState } from "../wire/agent.js";
import type { AgentTask, TaskOutput } from "../wire/ops.js";

/**
 * Desired state, membership and locks. The embedded implementation lives in
 * the control plane; etcd v3 implements the same contract for several replicas.
 */
export interface Coordinator {
  /**
   * Current desired state of a server (generation 0 and no release before the
   * first change). The only source of per-server desired state: no other part
   * reads it from the Store.
   */
  desired(server: string): Promise<DesiredState>;
  /**
   * `desired` of many servers in a few reads (a deploy's checks of a whole group: etcd
   * reads up to 128 keys per request, the embedded store one query), in the order of
   * `servers`. Read only; may run concurrently.
   */
  desiredMany(servers: string[]): Promise<DesiredState[]>;
  /**
   * Sets what a server should run, bumps its generation and wakes its watchers.
   * Idempotent for the same release: the generation moves only on a change
   * unless `force` is set (a retry of the same release) or `run` is given.
   * `run` changes whether the app runs and asks for a restart; what it leaves
   * out is kept (a stop stays until a start). Returns the new state.
   */
  setDesired(
    server: string,
    release: DesiredRelease | null,
    options?: { force?: boolean; run?: RunChange },
  ): Promise<DesiredState>;
  /**
   * Sets the release a server should fetch, verify and unpack ahead of a
   * switch (null: none), bumps its generation and wakes its watchers.
   * Idempotent for the same stage. `setDesired` of the staged release clears it.
   */
  setStage(server: string, release: DesiredRelease | null): Promise<DesiredState>;
  /**
   * `setDesired` of one release for many servers as one batch (a deploy's wave
   * set-up: one transaction or a few, no read per server); the states come back
   * in the order of `servers`. Watchers wake as each server's change lands.
   */
  setDesiredMany(
    servers: string[],
    release: DesiredRelease | null,
    options?: { force?: boolean; run?: RunChange },
  ): Promise<DesiredState[]>;
  /** `setStage` of one release for many servers as one batch, like `setDesiredMany`. */
  setStageMany(servers: string[], release: DesiredRelease | null): Promise<DesiredState[]>;
  /**
   * Removes the desired state (and etcd: the last report) of servers gone for good, once
   * `group rm` has terminated them: a later read is generation 0 with no release, and a new
   * server may take the name. Idempotent; may run concurrently with changes of other servers.
   */
  forget(servers: string[]): Promise<void>;
  /**
   * Long poll: resolves as soon as the server's generation differs from `after`,
   * or after `timeoutMs` with the current state. Many may wait at once.
   */
  watch(
    server: string,
    after: number,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<DesiredState>;
  /**
   * Takes the named lock for `owner`; null when another owner holds it. Not re-entrant.
   * A `durable` lock (a maintenance window) outlives the process that took it, also a
   * restart of the control plane, until `releaseLock`; the others lapse with their holder.
   */
  tryLock(name: string, owner: string, options?: { durable?: boolean }): Promise<Lock | null>;
  /** Owner of a held lock, or null. */
  lockOwner(name: string): Promise<string | null>;
  /**
   * Hands an agent's report, received by this replica, to the report
   * subscribers of every replica: the deployment waiting on the server may run
   * on another one. Resolves once it is published (the agent is answered
   * after). Subscribers see one server's reports in publish order. May run
   * concurrently.
   */
  publishReport(server: string, report: AgentReport): Promise<void>;
  /**
   * Calls `listener` with every report published from now on, by any replica,
   * exactly once each (etcd: also those published while the watch was broken).
   * Returns how to stop. Called once per replica, by the fleet at its start.
   */
  subscribeReports(listener: ReportListener): () => void;
  /** Gives up the durable lock `name` if `owner` holds it, from any process. Idempotent. */
  releaseLock(name: string, owner: string): Promise<void>;
  /**
   * Holds servers out of the balancer for every replica (a deployment's wave, a
   * retirement) until `letIn`. The hold lapses with the replica that took it
   * (etcd: its lease; embedded: the process), so a replica taking a deployment
   * over holds its wave again. Resolves once every replica's `heldOut` sees it.
   * Idempotent; may run concurrently.
   */
  holdOut(servers: string[]): Promise<void>;
  /** Ends the hold of servers, whichever replica took it. Idempotent. */
  letIn(servers: string[]): Promise<void>;
  /** Whether a server is held out now, by any replica. Called on every service decision. */
  heldOut(server: string): Promise<boolean>;
  /**
   * Queues an ops task (logs, exec) for `server`, for whichever replica its
   * agent long-polls, and calls `onOutput` with each of the agent's posts in
   * the order it sent them, on whichever replica they arrived, until `close`.
   * `onOutput(null)`: posts may have been lost (etcd: the watch broke or the
   * lease lapsed); the caller ends the task. Resolves once the task can be taken.
   */
  openTask(server: string, task: AgentTask, onOutput: TaskOutputListener): Promise<OpenTask>;
  /**
   * An agent's task long poll: the tasks queued for `server`, each handed to one
   * poll only, waiting up to `waitMs` for one; [] when `signal` aborts.
   */
  takeTasks(server: string, waitMs: number, signal: AbortSignal): Promise<AgentTask[]>;
  /**
   * An agent's post of task output: false when the task is closed, or not
   * `server`'s (the agent stops it). Resolves once the opener will see it.
   */
  postTaskOutput(server: string, id: string, output: TaskOutput): Promise<boolean>;
}

/** The ops task channel of a Coordinator (what the task hub needs). */
export type TaskChannel = Pick<Coordinator, "openTask" | "takeTasks" | "postTaskOutput">;
/** The service holds of a Coordinator. */
export type Holds = Pick<Coordinator, "holdOut" | "letIn" | "heldOut">;

/** Receives an agent's posts of one task; null when some may have been lost. */
export type TaskOutputListener = (output: TaskOutput | null) => void;

export interface OpenTask {
  /** Ends the task: out of the queue if not taken, and the agent's next post gets false. Idempotent. */
  close(): Promise<void>;
}

/** A change of whether a server's app runs (`strata app stop|start|restart`). */
export interface RunChange {
  /** true: stop the app and keep it stopped; false: run it again. */
  stopped?: boolean;
  /** A new restart id: the agent restarts the app once for it. */
  restart?: string;
}

export type ReportListener = (server: string, report: AgentReport) => void;

/** The rule of `setDesired`, shared by every implementation: the next state, or null for none. */
export function nextDesired(
  now: DesiredState,
  release: DesiredRelease | null,
  options: { force?: boolean; run?: RunChange } = {},
): DesiredState | null {
  const same = (now.release?.id ?? null) === (release?.id ?? null);
  if (same && !options.force && !options.run) return null;
  // A stage of the release now desired is no longer ahead of anything.
  const stage = now.stage && now.stage.id !== release?.id ? now.stage : null;
  const run = runOf({ ...runOf(now), ...options.run });
  return { generation: now.generation + 1, release, ...(stage ? { stage } : {}), ...run };
}

/** The rule of `setStage`: the next state, or null when that stage is set already. */
export function nextStage(now: DesiredState, stage: DesiredRelease | null): DesiredState | null {
  if ((now.stage?.id ?? null) === (stage?.id ?? null)) return null;
  return {
    generation: now.generation + 1,
    release: now.release,
    ...(stage ? { stage } : {}),
    ...runOf(now),
  };
}

/** Whether the app runs, as a state carries it: absent keys for the defaults (running, no restart). */
export const runOf = (r: { stopped?: boolean; restart?: string | null }): RunChange => ({
  ...(r.stopped ? { stopped: true } : {}),
  ...(r.restart ? { restart: r.restart } : {}),
});

export interface Lock {
  readonly name: string;
  readonly owner: string;
  /** Gives the lock up. Idempotent. */
  release(): Promise<void>;
}

/** A lock held with a lease: it lapses by itself when its holder dies or is cut off. */
export interface LeasedLock extends Lock {
  /** Aborts once the lease could not be renewed before it ran out: another may hold it now. */
  readonly lost: AbortSignal;
}

/**
 * Leader election and membership among several control-plane replicas, on
 * top of the Coordinator. etcd implements it with leases; a single embedded
 * control plane is always the leader and sees every member it touched.
 */
export interface Cluster {
  /**
   * Waits until `owner` holds the leadership `name` (one live holder at a
   * time, e.g. `scheduler/forecast`) and returns it; the leadership lapses with
   * its holder. Called by each replica's schedulers at start; many may wait.
   * Rejects when `signal` aborts.
   */
  campaign(name: string, owner: string, signal?: AbortSignal): Promise<LeasedLock>;
  /**
   * Marks `member` alive for `ttlMs` from now (an agent's heartbeat); cheap
   * when repeated (etcd: the renewal of the member's one lease, whichever
   * replica granted it). Idempotent; may run concurrently, also on several
   * replicas.
   */
  touch(member: string, ttlMs: number): Promise<void>;
  /** Members whose last touch has not expired, sorted. */
  members(): Promise<string[]>;
}
