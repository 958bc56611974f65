import type { ArtifactStore } from "../artifact/store.js";
import type { Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import type { DeploymentRecord, Store } from "../store/store.js";
import type { BakeView, GcView, ImagesView } from "../wire/image.js";
import { channelName, createImageViews } from "./image-views.js";
import type { ImageConfig } from "./image-config.js";
import type { BakeReason, BakeRecord } from "../store/image-repo.js";
import type { ImageStore } from "./image-store.js";
import { createBaker } from "./bake.js";
import type { ReleaseGrants } from "./release-grants.js";
import { createBakeQueue } from "./bake-queue.js";
import { createImageChannel } from "./image-channel.js";
import { createImageGc } from "./image-gc.js";
import { createImagePins } from "./image-pins.js";

export interface ImageServiceOptions {
  /** Images and bakes are kept in `store.images`; groups, releases and servers are only read. */
  store: Store;
  images: ImageStore;
  /** Where the app layer's release tarball comes from. */
  artifacts: ArtifactStore;
  config: ImageConfig;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Lets builders that fetch the release themselves (Glance bakes) read it; absent: never offered. */
  grants?: ReleaseGrants;
}

/**
 * Golden images kept in step with the app: bakes (a background queue, one at
 * a time per group), the `<group>:current` channel, the image new servers
 * launch from, and garbage collection.
 */
export interface ImageService {
  /**
   * Called once at control-plane start: marks bakes and images a previous
   * process left unfinished as failed, then enqueues a bake for each group
   * whose channel lags its desired release or recipe.
   */
  start(): Promise<void>;
  /**
   * Enqueues a bake of the group's desired release (or `release`) and returns
   * at once with the bake `queued`; an identical bake still waiting is
   * returned instead of a new one. Never waits for a bake to run. May run
   * concurrently. "not_found" for an unknown group, "bad_request" when there
   * is nothing to bake.
   */
  requestBake(group: string, reason: BakeReason, release?: string): Promise<BakeRecord>;
  /** The deployer's `onSucceeded`: enqueues the app-layer bake. Never throws. */
  onDeploymentSucceeded(deployment: DeploymentRecord): void;
  /**
   * Image a new server of the group launches from: the channel target; before
   * the first app image, the newest middleware image (a server never misses
   * its recipe); null for the provider's base. May run concurrently.
   */
  imageFor(group: string): Promise<string | null>;
  view(group?: string): Promise<ImagesView>;
  bake(id: string): Promise<BakeView | null>;
  /**
   * Deletes what `planGc` allows, or only reports it with `dryRun`. Runs one
   * at a time, never while a bake picks its parent.
   */
  gc(options?: { keep?: number; dryRun?: boolean }): Promise<GcView>;
  /** Resolves once no bake is queued or running (tests, benchmarks). */
  idle(): Promise<void>;
  /** Aborts the running bakes (their images end killed) and waits for the queue. Idempotent. */
  close(): Promise<void>;
}

export { channelName };

/**
 * Composes the jobs: the per-group bake queue (bake-queue.ts) running one bake
 * at a time (bake.ts), the channel (image-channel.ts), GC (image-gc.ts) and
 * the views (image-views.ts); image-pins.ts keeps GC off what a bake uses.
 */
export function createImageService(options: ImageServiceOptions): ImageService {
  const { store, images, artifacts, config, clock, audit } = options;
  const repo = store.images;
  const stop = new AbortController();
  const pins = createImagePins();
  const views = createImageViews(store);
  const channel = createImageChannel({ store, config, clock, audit });
  const gc = createImageGc({ store, images, config, pins, audit });
  const run = createBaker({
    store,
    images,
    artifacts,
    config,
    clock,
    audit,
    signal: stop.signal,
    pins,
    channel,
    gc: () => gc(),
    ...(options.grants ? { grants: options.grants } : {}),
  });
  const queue = createBakeQueue({ store, clock, audit, signal: stop.signal, run });

  return {
    async start() {
      for (const bake of await repo.listBakes({ states: ["queued", "running"], limit: 10_000 })) {
        await repo.updateBake(bake.id, {
          state: "failed",
          step: null,
          error: "[image] the control plane restarted before the bake finished",
          finished_at: clock.now(),
        });
      }
      for (const image of await repo.list({ states: ["queued", "saving"] })) {
        await repo.update(image.id, {
          state: "killed",
          error: "[image] the control plane restarted during the bake",
        });
        await images.delete(image.id);
      }
      for (const group of await store.groups.list()) {
        if (!group.desired_release) continue;
        if (await channel.isCurrent(group.name, group.desired_release)) continue;
        await queue
          .request(group.name, "start")
          .catch((err) => audit("image.bake.error", group.name, { error: messageOf(err) }));
      }
    },

    requestBake: (group, reason, release) => queue.request(group, reason, release),
    onDeploymentSucceeded: (deployment) => queue.onDeploymentSucceeded(deployment),
    imageFor: (group) => channel.imageFor(group),
    view: (group) => views.view(group),
    bake: (id) => views.bake(id),
    gc,
    idle: () => queue.idle(),

    async close() {
      stop.abort();
      await queue.idle();
    },
  };
}
