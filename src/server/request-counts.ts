import type { RequestCount } from "../balancer/balancer.js";
import { messageOf } from "../lib/errors.js";
import type { GroupRepo } from "../store/store.js";
import type { TrafficRepo } from "../store/traffic-repo.js";

export interface RequestCountRecorderOptions {
  /** Maps a balancer group to its app. */
  groups: Pick<GroupRepo, "get">;
  traffic: Pick<TrafficRepo, "add">;
  /** Told about a minute that could not be stored. @default console.error */
  onError?: (err: unknown, counts: RequestCount) => void;
}

/**
 * Stores the built-in balancer's per-minute request counts as the traffic of the group's app,
 * so a fleet forecasts its own traffic without shipping logs.
 */
export interface RequestCountRecorder {
  /**
   * The balancer's `onCounts`: adds the minute to the app of `counts.group` (additive, like an
   * ingest without a source). Minutes of a group without an app yet are dropped. Returns at
   * once and never throws; may be called concurrently.
   */
  record(counts: RequestCount): void;
  /** Resolves when every minute recorded so far is stored. Called at shutdown, before the store closes. */
  settle(): Promise<void>;
}

export function createRequestCountRecorder(
  options: RequestCountRecorderOptions,
): RequestCountRecorder {
  const onError =
    options.onError ??
    ((err, counts) =>
      console.error(
        `[server] request counts of ${counts.group} at ${new Date(counts.minute).toISOString()}: ${messageOf(err)}`,
      ));
  const pending = new Set<Promise<void>>();

  async function store(counts: RequestCount): Promise<void> {
    const app = (await options.groups.get(counts.group))?.app;
    if (!app) return;
    const { group: _group, ...minute } = counts;
    await options.traffic.add(app, [minute]);
  }

  return {
    record(counts) {
      const done: Promise<void> = store(counts)
        .catch((err) => onError(err, counts))
        .finally(() => pending.delete(done));
      pending.add(done);
    },
    async settle() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
