import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createDigest } from "../artifact/digest.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { DeploymentRecord, Store } from "../store/store.js";
import type { Release } from "../wire/release.js";
import type { BakeView, GcView, ImagesView } from "../wire/image.js";
import { channelName, createImageViews } from "./image-views.js";
import { planGc } from "./gc.js";
import type { ImageConfig } from "./image-config.js";
import type { BakeReason, BakeRecord, ImageLayerKind, ImageRecord } from "../store/image-repo.js";
import { ImageBuildError, type ImageLayer, type ImageStore } from "./image-store.js";
import { hashRecipe } from "./recipe.js";
import { isGroupName } from "../wire/names.js";

export interface ImageServiceOptions {
  /** Images and bakes are kept in `store.images`; groups, releases and servers are only read. */
  store: Store;
  images: ImageStore;
  /** Where the app layer's release tarball comes from. */
  artifacts: ArtifactStore;
  config: ImageConfig;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
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

/** Output kept in the audit log; the bake record keeps all the (bounded) output. */
const AUDIT_OUTPUT_BYTES = 4096;

export { channelName };

export function createImageService(options: ImageServiceOptions): ImageService {
  const { store, images, artifacts, config, clock, audit } = options;
  const repo = store.images;
  const stop = new AbortController();
  const chains = new Map<string, Promise<void>>();
  const pending = new Set<Promise<void>>();
  /** group + release of bakes not started yet, for dedupe. */
  const waiting = new Map<string, BakeRecord>();
  /** Image ids a running bake builds or builds on, with a use count. */
  const busy = new Map<string, number>();
  let exclusive: Promise<unknown> = Promise.resolve();
  const views = createImageViews(store);

  /** Runs `work` alone among GC runs and bakes choosing their parent. */
  function serially<T>(work: () => Promise<T>): Promise<T> {
    const run = exclusive.then(work);
    exclusive = run.catch(() => undefined);
    return run;
  }
  const pin = (id: string | null) => {
    if (id) busy.set(id, (busy.get(id) ?? 0) + 1);
  };
  const unpin = (id: string | null) => {
    if (!id) return;
    const n = (busy.get(id) ?? 1) - 1;
    if (n > 0) busy.set(id, n);
    else busy.delete(id);
  };

  async function download(release: Release, dest: string, signal: AbortSignal): Promise<void> {
    const found = await artifacts.open(release.id);
    if (!found)
      throw new StrataError(
        "not_found",
        `[image] bake: artifact ${release.id} is not in the store`,
      );
    const digest = createDigest();
    async function* hashed(source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        digest.update(chunk);
        yield chunk;
      }
    }
    await pipeline(found.stream, hashed, createWriteStream(dest, { flags: "wx" }), { signal });
    if (digest.id() !== release.id) {
      throw new StrataError(
        "checksum_mismatch",
        `[image] bake: checksum mismatch for ${release.id} (got ${digest.id()})`,
      );
    }
  }

  interface LayerSpec {
    group: string;
    layer: ImageLayerKind;
    name: string;
    parent: string | null;
    recipeHash: string | null;
    release: Release | null;
    key: string;
    build: ImageLayer;
  }

  /**
   * Registers, builds and records one image; the parent was pinned by the
   * caller, and the new image stays pinned on success (the caller unpins).
   */
  async function bakeLayer(spec: LayerSpec): Promise<{ record: ImageRecord; output: string }> {
    const properties: Record<string, string> = {
      "strata:group": spec.group,
      "strata:layer": spec.layer,
      "strata:bake-key": spec.key,
    };
    if (spec.parent) properties["strata:parent"] = spec.parent;
    if (spec.recipeHash) properties["strata:recipe-hash"] = spec.recipeHash;
    if (spec.release) properties["strata:release"] = spec.release.id;
    const image = await images.create({ name: spec.name, properties });
    const record: ImageRecord = {
      id: image.id,
      group: spec.group,
      layer: spec.layer,
      name: spec.name,
      parent: spec.parent,
      recipe_hash: spec.recipeHash,
      release: spec.release?.id ?? null,
      version: spec.release?.version ?? null,
      bake_key: spec.key,
      state: "saving",
      size: null,
      created_at: clock.now(),
      baked_at: null,
      bake_ms: null,
      error: null,
    };
    await repo.insert(record);
    pin(image.id);
    try {
      const { image: built, output } = await images.build(
        image.id,
        { parent: spec.parent, layer: spec.build },
        stop.signal,
      );
      // A store may replace the queued image by the one it built (Glance: Nova names a snapshot).
      if (built.id !== image.id) {
        await repo.insert({ ...record, id: built.id });
        await repo.delete(image.id);
        pin(built.id);
        unpin(image.id);
        image.id = built.id;
        record.id = built.id;
      }
      const bakedAt = clock.now();
      const patch = {
        state: "active" as const,
        size: built.size,
        baked_at: bakedAt,
        bake_ms: bakedAt - record.created_at,
      };
      await repo.update(image.id, patch);
      await audit("image.baked", image.id, {
        group: spec.group,
        layer: spec.layer,
        parent: spec.parent,
        size: built.size,
        bake_ms: patch.bake_ms,
      });
      return { record: { ...record, ...patch }, output };
    } catch (err) {
      unpin(image.id);
      await repo.update(image.id, { state: "killed", error: messageOf(err) });
      throw err;
    }
  }

  /** Finds the active image with `key` (pinning it), or null; alone among GC runs. */
  const findPinned = (key: string) =>
    serially(async () => {
      const found = await repo.findActive(key);
      pin(found?.id ?? null);
      return found;
    });

  async function runBake(bake: BakeRecord): Promise<void> {
    waiting.delete(`${bake.group} ${bake.release}`);
    const finish = async (state: BakeRecord["state"], patch: Partial<BakeRecord>) => {
      await repo.updateBake(bake.id, { state, step: null, finished_at: clock.now(), ...patch });
      const detail: Record<string, unknown> = { bake: bake.id, release: bake.release, ...patch };
      if (typeof detail.output === "string")
        detail.output = tail(detail.output, AUDIT_OUTPUT_BYTES);
      await audit(`image.bake.${state}`, bake.group, detail);
    };
    if (stop.signal.aborted)
      return finish("failed", {
        error: "[image] the control plane stopped before the bake started",
      });
    await repo.updateBake(bake.id, { state: "running", started_at: clock.now() });
    const pinned: string[] = [];
    let output = "";
    try {
      const group = await store.groups.get(bake.group);
      if (!bake.release)
        return await finish("skipped", { detail: "the group has no desired release" });
      if (group?.desired_release !== bake.release) {
        return await finish("skipped", {
          detail: `superseded: the group now wants ${group?.desired_release ?? "nothing"}`,
        });
      }
      const release = await store.releases.getById(bake.release);
      if (!release)
        throw new StrataError("not_found", `[image] bake: release ${bake.release} is unknown`);

      let parent: string | null = null;
      let recipeHash: string | null = null;
      const recipe = config.groups[bake.group]?.recipe ?? null;
      if (recipe) {
        await repo.updateBake(bake.id, { step: "middleware" });
        recipeHash = await hashRecipe(recipe);
        const key = `middleware base ${recipeHash}`;
        let middleware = await findPinned(key);
        if (middleware) pinned.push(middleware.id);
        else {
          await repo.updateBake(bake.id, { step: "middleware: provisioning" });
          const baked = await bakeLayer({
            group: bake.group,
            layer: "middleware",
            name: `${bake.group}-middleware-${recipeHash.slice(7, 19)}`,
            parent: null,
            recipeHash,
            release: null,
            key,
            build: {
              kind: "recipe",
              dir: recipe,
              timeoutMs: config.groups[bake.group]!.provisionTimeoutMs,
              env: { STRATA_GROUP: bake.group, STRATA_RECIPE_HASH: recipeHash },
            },
          }).catch((err: unknown) => {
            if (err instanceof ImageBuildError) output = err.output;
            throw err;
          });
          output = baked.output;
          middleware = baked.record;
          pinned.push(middleware.id);
        }
        parent = middleware.id;
        await repo.updateBake(bake.id, { middleware_image: parent });
      }

      await repo.updateBake(bake.id, { step: "app" });
      const key = `app ${parent ?? "base"} ${release.id}`;
      let app = await findPinned(key);
      const identical = app !== null;
      if (!app) {
        app = (
          await bakeLayer({
            group: bake.group,
            layer: "app",
            name: `${bake.group}-${release.app}-${release.version}`,
            parent,
            recipeHash,
            release,
            key,
            build: {
              kind: "release",
              release,
              download: (dest, signal) => download(release, dest, signal),
            },
          })
        ).record;
      }
      pinned.push(app.id);
      const moved = await moveChannel(bake.group, app);
      const detail = [
        identical
          ? `identical to image ${app.id}: bake skipped`
          : `baked ${app.id} in ${app.bake_ms} ms`,
        moved ? `${channelName(bake.group)} -> ${app.id}` : null,
      ]
        .filter(Boolean)
        .join("; ");
      await finish(identical ? "skipped" : "succeeded", {
        image: app.id,
        detail,
        ...(output ? { output } : {}),
      });
      if (!identical)
        await gc().catch((err) => audit("image.gc.failed", bake.group, { error: messageOf(err) }));
    } catch (err) {
      const error = stop.signal.aborted
        ? "[image] bake aborted: the control plane stopped"
        : messageOf(err);
      await finish("failed", { error, ...(output ? { output } : {}) });
    } finally {
      for (const id of pinned) unpin(id);
    }
  }

  /** Points `<group>:current` at the app image when its release is (still) the desired one. */
  async function moveChannel(group: string, app: ImageRecord): Promise<boolean> {
    const desired = (await store.groups.get(group))?.desired_release ?? null;
    if (app.release !== desired) return false;
    const name = channelName(group);
    const before = await repo.channel(name);
    if (before?.image === app.id) return false;
    await repo.setChannel(name, app.id, clock.now());
    await audit("image.channel.move", name, {
      from: before?.image ?? null,
      to: app.id,
      release: app.release,
    });
    return true;
  }

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
      .then(() => runBake(bake))
      .catch(() => undefined);
    chains.set(group, run);
    pending.add(run);
    void run.finally(() => {
      pending.delete(run);
      if (chains.get(group) === run) chains.delete(group);
    });
    return bake;
  }

  function gc(gcOptions: { keep?: number; dryRun?: boolean } = {}): Promise<GcView> {
    const keep = gcOptions.keep ?? config.keep;
    if (!Number.isInteger(keep) || keep < 0 || keep > 1000) {
      return Promise.reject(
        new StrataError(
          "bad_request",
          `[image] gc: keep must be a whole number from 0 to 1000, got ${keep}`,
        ),
      );
    }
    return serially(async () => {
      const all = await repo.list();
      const plan = planGc({
        images: all,
        channels: await repo.channels(),
        servers: (await store.servers.list()).map((s) => ({ name: s.name, image: s.image })),
        busy: [...busy.keys()],
        keep,
      });
      const names = new Map(all.map((i) => [i.id, i.name]));
      if (!gcOptions.dryRun) {
        for (const { id, reason } of [...plan.delete]) {
          // The store may refuse (Glance: a protected image, or one a server outside strata uses).
          const refused = await images.delete(id).then(
            () => null,
            (err: unknown) => {
              if (err instanceof StrataError && err.code === "conflict") return messageOf(err);
              throw err;
            },
          );
          if (refused) {
            plan.delete.splice(
              plan.delete.findIndex((d) => d.id === id),
              1,
            );
            plan.keep.push({ id, reason: refused });
            continue;
          }
          await repo.delete(id);
          await audit("image.delete", id, { name: names.get(id), reason });
        }
      }
      const named = (list: { id: string; reason: string }[]) =>
        list.map((d) => ({ id: d.id, name: names.get(d.id) ?? d.id, reason: d.reason }));
      return {
        dry_run: Boolean(gcOptions.dryRun),
        keep,
        deleted: named(plan.delete),
        kept: named(plan.keep),
      };
    });
  }

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
        const channel = await repo.channel(channelName(group.name));
        const target = channel ? await repo.get(channel.image) : null;
        const recipe = config.groups[group.name]?.recipe ?? null;
        const recipeHash = recipe ? await hashRecipe(recipe).catch(() => null) : null;
        if (target?.release === group.desired_release && target.recipe_hash === recipeHash)
          continue;
        await requestBake(group.name, "start").catch((err) =>
          audit("image.bake.error", group.name, { error: messageOf(err) }),
        );
      }
    },

    requestBake,

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

    async imageFor(group) {
      const channel = await repo.channel(channelName(group));
      const target = channel ? await repo.get(channel.image) : null;
      if (target?.state === "active") return target.id;
      const recipe = config.groups[group]?.recipe;
      if (!recipe) return null;
      const hash = await hashRecipe(recipe).catch(() => null);
      const middleware = hash ? await repo.findActive(`middleware base ${hash}`) : null;
      if (middleware) return middleware.id;
      return (await repo.list({ group, layer: "middleware", states: ["active"] }))[0]?.id ?? null;
    },

    view: (group) => views.view(group),
    bake: (id) => views.bake(id),

    gc,

    async idle() {
      while (pending.size > 0) await Promise.all(pending);
    },

    async close() {
      stop.abort();
      while (pending.size > 0) await Promise.all(pending);
    },
  };
}

function tail(text: string, bytes: number): string {
  return text.length <= bytes ? text : `[...]${text.slice(-bytes)}`;
}
