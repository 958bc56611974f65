import type { ChannelRecord, ImageRecord } from "../store/image-repo.js";

export interface GcInput {
  images: readonly ImageRecord[];
  channels: readonly ChannelRecord[];
  /** Live (not terminated) servers and the image each was launched from. */
  servers: readonly { name: string; image: string | null }[];
  /** Images a bake in progress builds or builds on. */
  busy: readonly string[];
  /** Newest active app images kept per group. */
  keep: number;
}

export interface GcPlan {
  delete: { id: string; reason: string }[];
  /** Every image kept, with the first reason found. */
  keep: { id: string; reason: string }[];
}

/**
 * Decides which images garbage collection deletes. Kept: the newest `keep`
 * active app images of each group, every channel target, every image a live
 * server was launched from, images being baked or baked on, the newest
 * active middleware image of each group (the next bake builds on it), and
 * every ancestor of a kept image. Everything else goes, killed images
 * included. Pure: the caller reads the inputs and deletes.
 */
export function planGc(input: GcInput): GcPlan {
  const byId = new Map(input.images.map((image) => [image.id, image]));
  const reasons = new Map<string, string>();
  const hold = (id: string | null, reason: string) => {
    if (id && byId.has(id) && !reasons.has(id)) reasons.set(id, reason);
  };
  const newestFirst = [...input.images].sort(
    (a, b) => (b.baked_at ?? b.created_at) - (a.baked_at ?? a.created_at),
  );

  for (const channel of input.channels) hold(channel.image, `target of channel ${channel.name}`);
  for (const server of input.servers)
    hold(server.image, `server ${server.name} was launched from it`);
  for (const id of input.busy) hold(id, "a bake in progress uses it");
  for (const image of input.images)
    if (image.state === "queued" || image.state === "saving")
      hold(image.id, `being baked (${image.state})`);
  const counted = new Map<string, number>();
  const newestMiddleware = new Set<string>();
  for (const image of newestFirst) {
    if (image.state !== "active") continue;
    if (image.layer === "app") {
      const n = (counted.get(image.group) ?? 0) + 1;
      counted.set(image.group, n);
      if (n <= input.keep)
        hold(image.id, `one of the newest ${input.keep} app images of ${image.group}`);
    } else if (!newestMiddleware.has(image.group)) {
      newestMiddleware.add(image.group);
      hold(image.id, `newest middleware image of ${image.group}`);
    }
  }
  // Ancestors last, so that they follow every other reason to keep.
  for (const id of [...reasons.keys()]) {
    let parent = byId.get(id)?.parent ?? null;
    for (let depth = 0; parent && depth < 100; depth++) {
      hold(parent, `parent of ${id}`);
      parent = byId.get(parent)?.parent ?? null;
    }
  }
  return {
    delete: newestFirst
      .filter((image) => !reasons.has(image.id))
      .map((image) => ({
        id: image.id,
        reason:
          image.state === "killed"
            ? "killed (failed bake)"
            : image.layer === "app"
              ? `older than the newest ${input.keep}`
              : "no kept image derives from it",
      })),
    keep: newestFirst
      .filter((image) => reasons.has(image.id))
      .map((image) => ({ id: image.id, reason: reasons.get(image.id)! })),
  };
}
