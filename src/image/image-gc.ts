import { StrataError, messageOf } from "../lib/errors.js";
import type { Store } from "../store/store.js";
import type { GcView } from "../wire/image.js";
import { planGc } from "./gc.js";
import type { ImageConfig } from "./image-config.js";
import type { ImagePins } from "./image-pins.js";
import type { ImageStore } from "./image-store.js";

export interface ImageGcOptions {
  /** Images and channels are kept in `store.images`; servers are only read. */
  store: Store;
  images: ImageStore;
  config: ImageConfig;
  /** Pinned images are never deleted; a run holds the lane bakes choose their parent in. */
  pins: ImagePins;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

export type ImageGc = (options?: { keep?: number; dryRun?: boolean }) => Promise<GcView>;

/**
 * Deletes what `planGc` allows, or only reports it with `dryRun`. Runs one at
 * a time, never while a bake picks its parent.
 */
export function createImageGc(options: ImageGcOptions): ImageGc {
  const { store, images, config, pins, audit } = options;
  const repo = store.images;
  return (gcOptions = {}) => {
    const keep = gcOptions.keep ?? config.keep;
    if (!Number.isInteger(keep) || keep < 0 || keep > 1000) {
      return Promise.reject(
        new StrataError(
          "bad_request",
          `[image] gc: keep must be a whole number from 0 to 1000, got ${keep}`,
        ),
      );
    }
    return pins.serially(async () => {
      const all = await repo.list();
      const plan = planGc({
        images: all,
        channels: await repo.channels(),
        servers: (await store.servers.list()).map((s) => ({ name: s.name, image: s.image })),
        busy: pins.busy(),
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
  };
}
