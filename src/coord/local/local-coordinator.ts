import type { DesiredRepo } from "../../store/store.js";
import type { DesiredRelease, DesiredState } from "../../wire/agent.js";
import type { Coordinator, Lock, RunChange } from "../coordinator.js";

export interface LocalCoordinatorOptions {
  /** Where desired state is kept durably (the embedded store's desired_state table). */
  desired: DesiredRepo;
  /** Resolves a release id into what agents need to fetch it. */
  describeRelease: (releaseId: string) => Promise<DesiredRelease | null>;
}

/** In-process coordinator for a single control plane: state in the store, wake-ups in memory. */
export function createLocalCoordinator(options: LocalCoordinatorOptions): Coordinator {
  const { desired: repo, describeRelease } = options;
  const waiters = new Map<string, Set<(state: DesiredState | null) => void>>();
  const locks = new Map<string, string>();

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

  const runOf = (r: { stopped?: boolean; restart?: string | null }) => ({
    ...(r.stopped ? { stopped: true } : {}),
    ...(r.restart ? { restart: r.restart } : {}),
  });

  /** Hands the new state to every waiter, so that none re-reads the store. */
  function wake(server: string, state: DesiredState): void {
    const set = waiters.get(server);
    if (!set) return;
    waiters.delete(server);
    for (const fn of set) fn(state);
  }

  async function write(
    server: string,
    generation: number,
    release: DesiredRelease | null,
    stage: DesiredRelease | null,
    run: RunChange,
  ): Promise<DesiredState> {
    await repo.put({
      server,
      generation,
      release: release?.id ?? null,
      stage: stage?.id ?? null,
      stopped: run.stopped ?? false,
      restart: run.restart ?? null,
    });
    const state: DesiredState = { generation, release, ...(stage ? { stage } : {}), ...runOf(run) };
    wake(server, state);
    return state;
  }

  return {
    desired: current,
    async setDesired(server, release, setOptions = {}) {
      const now = await current(server);
      const same = (now.release?.id ?? null) === (release?.id ?? null);
      if (same && !setOptions.force && !setOptions.run) return now;
      // A stage of the release now desired is no longer ahead of anything.
      const stage = now.stage && now.stage.id !== release?.id ? now.stage : null;
      const run = { ...runOf(now), ...setOptions.run };
      return write(server, now.generation + 1, release, stage, run);
    },
    async setStage(server, stage) {
      const now = await current(server);
      if ((now.stage?.id ?? null) === (stage?.id ?? null)) return now;
      return write(server, now.generation + 1, now.release, stage, now);
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
    releaseLock: (name, owner) => repo.deleteLock(name, owner),
  };
}
