import { randomBytes } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { BakeReason, BakeRecord } from "../store/image-repo.js";
import type { DeploymentRecord, Store } from "../store/store.js";
import { isGroupName } from "../wire/names.js";

export interface BakeQueueOptions {
  /** Bakes are kept in `store.images`; groups are only read. */
  store: Store;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Aborted when the control plane stops: no bake is queued after. */
  signal: AbortSignal;
  /** Runs one bake to its end; never throws. */
  run: (bake: BakeRecord) => Promise<void>;
}

/** Bakes in the background, one at a time per group, a waiting duplicate returned instead of queued. */
export interface BakeQueue {
  /**
   * Enqueues a bake of the group's desired release (or `release`) and returns
   * at once with the bake `queued`. Never waits for a bake to run. May run concurrently.
   */
  request(group: string, reason: BakeReason, release?: string): Promise<BakeRecord>;
  /** Enqueues the app-layer bake of a deployment that succeeded. Never throws. */
  onDeploymentSucceeded(deployment: DeploymentRecord): void;
  /** Resolves once no bake is queued or running. */
  idle(): Promise<void>;
}

export function createBakeQueue(options: BakeQueueOptions): BakeQueue {
  const { store, clock, audit } = options;
  const stop = { signal: options.signal };
  const repo = store.images;
  const chains = new Map<string, Promise<void>>();
  const pending = new Set<Promise<void>>();
  /** group + release of bakes not started yet, for dedupe. */
  const waiting = new Map<string, BakeRecord>();

  async function requestBake(
    group: string,
    reason: BakeReason,
    release?: string,
  ): Promise<BakeRecord> {
    if (stop.signal.aborted)
      throw new StrataError("unavailable", "[image] bake: the control plane is stopping");
    if (!isGroupName(group)) {
      throw new StrataError(
        "bad_request",
        `[image] group: "${group}" must be lowercase letters, digits and dashes`,
      );
    }
    const record = await store.groups.get(group);
    if (!record) throw new StrataError("not_found", `[image] bake: no group ${group}`);
    const releaseId = release ?? record.desired_release;
    if (!releaseId)
      throw new StrataError(
        "bad_request",
        `[image] bake: group ${group} has no desired release yet; deploy first`,
      );
    const dedupe = `${group} ${releaseId}`;
    const already = waiting.get(dedupe);
    if (already) return already;
    const bake: BakeRecord = {
      id: `bake-${clock.now().toString(36)}-${randomBytes(3).toString("hex")}`,
      group,
      release: releaseId,
      reason,
      state: "queued",
      step: null,
      image: null,
      middleware_image: null,
      detail: null,
      error: null,
      output: null,
      requested_at: clock.now(),
      started_at: null,
      finished_at: null,
    };
    waiting.set(dedupe, bake);
    try {
      await repo.insertBake(bake);
    } catch (err) {
      waiting.delete(dedupe);
      throw err;
    }
    await audit("image.bake.queued", group, { bake: bake.id, release: releaseId, reason });
    const run = (chains.get(group) ?? Promise.resolve())
      .then(() => {
        waiting.delete(dedupe);
        return options.run(bake);
      })
      .catch(() => undefined);
    chains.set(group, run);
    pending.add(run);
    void run.finally(() => {
      pending.delete(run);
      if (chains.get(group) === run) chains.delete(group);
    });
    return bake;
  }

  return {
    request: requestBake,

    onDeploymentSucceeded(deployment) {
      const request = requestBake(deployment.group, "deploy", deployment.release).then(
        () => undefined,
        (err) =>
          audit("image.bake.error", deployment.group, {
            deployment: deployment.id,
            error: messageOf(err),
          }).catch(() => undefined),
      );
      // Counted as pending so that idle() also waits for a request still being recorded.
      pending.add(request);
      void request.finally(() => pending.delete(request));
    },

    async idle() {
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}
