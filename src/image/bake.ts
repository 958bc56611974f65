import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createDigest } from "../artifact/digest.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { BakeRecord, ImageLayerKind, ImageRecord } from "../store/image-repo.js";
import type { Store } from "../store/store.js";
import type { Release } from "../wire/release.js";
import type { ImageChannel } from "./image-channel.js";
import type { ImageConfig } from "./image-config.js";
import type { ImagePins } from "./image-pins.js";
import { ImageBuildError, type ImageLayer, type ImageStore } from "./image-store.js";
import { channelName } from "./image-views.js";
import { hashRecipe } from "./recipe.js";
import type { ReleaseGrants } from "./release-grants.js";

export interface BakerOptions {
  /** Images and bakes are kept in `store.images`; groups and releases are only read. */
  store: Store;
  images: ImageStore;
  /** Where the app layer's release tarball comes from. */
  artifacts: ArtifactStore;
  config: ImageConfig;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Aborted when the control plane stops: a running build ends killed. */
  signal: AbortSignal;
  pins: ImagePins;
  channel: ImageChannel;
  /** Run after a bake made a new image. */
  gc: () => Promise<unknown>;
  /** Offered to stores whose builders fetch the release themselves (ReleaseLayer.fetchGrant). */
  grants?: ReleaseGrants;
}

/** Output kept in the audit log; the bake record keeps all the (bounded) output. */
const AUDIT_OUTPUT_BYTES = 4096;

/**
 * Runs one queued bake to its end: the middleware layer (reused when its
 * recipe was baked before), the app layer, the channel move, then GC. Records
 * every outcome on the bake and in the audit log; never throws.
 */
export function createBaker(options: BakerOptions): (bake: BakeRecord) => Promise<void> {
  const { store, images, artifacts, config, clock, audit, pins, channel, grants } = options;
  const stop = { signal: options.signal };
  const repo = store.images;
  const { pin, unpin } = pins;

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
    pins.serially(async () => {
      const found = await repo.findActive(key);
      pin(found?.id ?? null);
      return found;
    });

  return async function runBake(bake: BakeRecord): Promise<void> {
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
      // The app layer's own output follows the middleware's: a Glance builder's console says
      // how it laid the release (in the file store, or only unpacked).
      const withApp = (more: string) => (output = [output, more].filter(Boolean).join("\n"));
      if (!app) {
        const baked = await bakeLayer({
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
            ...(grants
              ? {
                  fetchGrant: (image: string, ttlMs: number) =>
                    grants.issue(release.id, image, ttlMs),
                }
              : {}),
          },
        }).catch((err: unknown) => {
          if (err instanceof ImageBuildError) withApp(err.output);
          throw err;
        });
        withApp(baked.output);
        app = baked.record;
      }
      pinned.push(app.id);
      const moved = await channel.move(bake.group, app);
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
        await options
          .gc()
          .catch((err) => audit("image.gc.failed", bake.group, { error: messageOf(err) }));
    } catch (err) {
      const error = stop.signal.aborted
        ? "[image] bake aborted: the control plane stopped"
        : messageOf(err);
      await finish("failed", { error, ...(output ? { output } : {}) });
    } finally {
      for (const id of pinned) unpin(id);
    }
  };
}

function tail(text: string, bytes: number): string {
  return text.length <= bytes ? text : `[...]${text.slice(-bytes)}`;
}
