import type { DesiredRelease, DesiredState } from "../../wire/agent.js";
import type { Store } from "../../store/store.js";
import type { Coordinator, Lock } from "../coordinator.js";

export interface LocalCoordinatorOptions {
  /** Where desired state is kept durably (the servers table). */
  store: Store;
  /** Resolves a release id into what agents need to fetch it. */
  describeRelease: (releaseId: string) => Promise<DesiredRelease | null>;
}

/** In-process coordinator for a single control plane: state in the store, wake-ups in memory. */
export function createLocalCoordinator(options: LocalCoordinatorOptions): Coordinator {
  const { store, describeRelease } = options;
  const waiters = new Map<string, Set<(state: DesiredState | null) => void>>();
  const locks = new Map<string, string>();

  async function current(server: string): Promise<DesiredState> {
    const record = await store.servers.get(server);
    if (!record) return { generation: 0, release: null };
    const release = record.desired_release ? await describeRelease(record.desired_release) : null;
    return { generation: record.desired_generation, release };
  }

  /** Hands the new state to every waiter, so that none re-reads the store. */
  function wake(server: string, state: DesiredState): void {
    const set = waiters.get(server);
    if (!set) return;
    waiters.delete(server);
    for (const fn of set) fn(state);
  }

  return {
    desired: current,
    async setDesired(server, release, setOptions = {}) {
      const record = await store.servers.get(server);
      if (!record) throw new Error(`[coord] unknown server ${server}`);
      const id = release?.id ?? null;
      if (record.desired_release === id && !setOptions.force) return current(server);
      const state: DesiredState = { generation: record.desired_generation + 1, release };
      await store.servers.update(server, {
        desired_release: id,
        desired_generation: state.generation,
      });
      wake(server, state);
      return state;
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
    async tryLock(name, owner) {
      if (locks.has(name)) return null;
      locks.set(name, owner);
      const lock: Lock = {
        name,
        owner,
        release: async () => {
          if (locks.get(name) === owner) locks.delete(name);
        },
      };
      return lock;
    },
    lockOwner: async (name) => locks.get(name) ?? null,
  };
}
