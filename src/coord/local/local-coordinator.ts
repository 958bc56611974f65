import type { DesiredRepo } from "../../store/store.js";
import type { DesiredRelease, DesiredState } from "../../wire/agent.js";
import {
  nextDesired,
  nextStage,
  runOf,
  type Coordinator,
  type Lock,
  type ReportListener,
} from "../coordinator.js";
import { createLocalHolds, createLocalTasks } from "./local-tasks.js";

export interface LocalCoordinatorOptions {
  /** Where desired state is kept durably (the embedded store's desired_state table). */
  desired: DesiredRepo;
  /** Resolves a release id into what agents need to fetch it. */
  describeRelease: (releaseId: string) => Promise<DesiredRelease | null>;
}

/**
 * In-process coordinator for a single control plane: state in the store, wake-ups,
 * holds and the ops task channel in memory.
 */
export function createLocalCoordinator(options: LocalCoordinatorOptions): Coordinator {
  const { desired: repo, describeRelease } = options;
  const waiters = new Map<string, Set<(state: DesiredState | null) => void>>();
  const locks = new Map<string, string>();
  const reportListeners = new Set<ReportListener>();

  async function current(server: string): Promise<DesiredState> {
    const record = await repo.get(server);
    if (!record) return { generation: 0, release: null };
    const [release, stage] = await Promise.all([
      record.release ? describeRelease(record.release) : null,
      record.stage ? describeRelease(record.stage) : null,
    ]);
    return {
      generation: record.generation,
      release,
      ...(stage ? { stage } : {}),
      ...runOf(record),
    };
  }

  /** Hands the new state to every waiter, so that none re-reads the store. */
  function wake(server: string, state: DesiredState): void {
    const set = waiters.get(server);
    if (!set) return;
    waiters.delete(server);
    for (const fn of set) fn(state);
  }

  const recordOf = (server: string, state: DesiredState) => ({
    server,
    generation: state.generation,
    release: state.release?.id ?? null,
    stage: state.stage?.id ?? null,
    stopped: state.stopped ?? false,
    restart: state.restart ?? null,
  });

  async function write(server: string, state: DesiredState): Promise<DesiredState> {
    await repo.put(recordOf(server, state));
    wake(server, state);
    return state;
  }

  /** Every state of `servers` with one read, each release described once. */
  async function currentMany(servers: string[]): Promise<Map<string, DesiredState>> {
    const records = new Map((await repo.getMany(servers)).map((r) => [r.server, r]));
    const described = new Map<string, Promise<DesiredRelease | null>>();
    const describe = (id: string | null) => {
      if (!id) return null;
      let release = described.get(id);
      if (!release) described.set(id, (release = describeRelease(id)));
      return release;
    };
    const states = new Map<string, DesiredState>();
    for (const server of servers) {
      const record = records.get(server);
      if (!record) {
        states.set(server, { generation: 0, release: null });
        continue;
      }
      const [release, stage] = await Promise.all([
        describe(record.release),
        describe(record.stage),
      ]);
      states.set(server, {
        generation: record.generation,
        release,
        ...(stage ? { stage } : {}),
        ...runOf(record),
      });
    }
    return states;
  }

  /** Writes what `next` makes of each server's state (null: unchanged) in one transaction. */
  async function writeMany(
    servers: string[],
    next: (now: DesiredState) => DesiredState | null,
  ): Promise<DesiredState[]> {
    const now = await currentMany(servers);
    const changed = new Map<string, DesiredState>();
    for (const server of new Set(servers)) {
      const state = next(now.get(server)!);
      if (state) changed.set(server, state);
    }
    await repo.putMany([...changed].map(([server, state]) => recordOf(server, state)));
    for (const [server, state] of changed) wake(server, state);
    return servers.map((server) => changed.get(server) ?? now.get(server)!);
  }

  return {
    desired: current,
    async desiredMany(servers) {
      const states = await currentMany(servers);
      return servers.map((server) => states.get(server)!);
    },
    setDesiredMany: (servers, release, setOptions = {}) =>
      writeMany(servers, (now) => nextDesired(now, release, setOptions)),
    setStageMany: (servers, stage) => writeMany(servers, (now) => nextStage(now, stage)),
    forget: (servers) => repo.deleteMany(servers),
    async setDesired(server, release, setOptions = {}) {
      const now = await current(server);
      const next = nextDesired(now, release, setOptions);
      return next ? write(server, next) : now;
    },
    async setStage(server, stage) {
      const now = await current(server);
      const next = nextStage(now, stage);
      return next ? write(server, next) : now;
    },
    async watch(server, after, timeoutMs, signal) {
      const now = await current(server);
      if (now.generation !== after || timeoutMs <= 0) return now;
      const woken = await new Promise<DesiredState | null>((resolve) => {
        const done = (state: DesiredState | null) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", abandon);
          waiters.get(server)?.delete(done);
          resolve(state);
        };
        const expire = () => done(null);
        // An aborted poll has nobody to answer: no store read (it may be closed by then).
        const abandon = () => done(now);
        const timer = setTimeout(expire, timeoutMs);
        signal?.addEventListener("abort", abandon, { once: true });
        let set = waiters.get(server);
        if (!set) waiters.set(server, (set = new Set()));
        set.add(done);
      });
      return woken ?? current(server);
    },
    async tryLock(name, owner, lockOptions = {}) {
      // Claimed in memory before any await, so two callers in one tick cannot both win.
      if (locks.has(name)) return null;
      locks.set(name, owner);
      const taken = lockOptions.durable
        ? await repo.insertLock(name, owner)
        : (await repo.lockOwner(name)) === null;
      if (lockOptions.durable || !taken) locks.delete(name);
      if (!taken) return null;
      if (lockOptions.durable) return { name, owner, release: () => repo.deleteLock(name, owner) };
      const lock: Lock = {
        name,
        owner,
        release: async () => {
          if (locks.get(name) === owner) locks.delete(name);
        },
      };
      return lock;
    },
    lockOwner: async (name) => locks.get(name) ?? (await repo.lockOwner(name)),
    async publishReport(server, report) {
      for (const listener of [...reportListeners]) listener(server, report);
    },
    subscribeReports(listener) {
      reportListeners.add(listener);
      return () => void reportListeners.delete(listener);
    },
    releaseLock: (name, owner) => repo.deleteLock(name, owner),
    ...createLocalHolds(),
    ...createLocalTasks(),
  };
}
