import { isoTime } from "../lib/clock.js";
import type { BakeRecord, ImageRecord } from "../store/image-repo.js";
import type { Store } from "../store/store.js";
import type { BakeView, ChannelView, ImageView, ImagesView } from "../wire/image.js";

/** The channel new servers of the group launch from. */
export function channelName(group: string): string {
  return `${group}:current`;
}

/** The read side of the image service: images, channels and bakes as the API shows them. */
export function createImageViews(store: Store): {
  view(group?: string): Promise<ImagesView>;
  bake(id: string): Promise<BakeView | null>;
} {
  const repo = store.images;
  function imageView(
    record: ImageRecord,
    channels: Map<string, string[]>,
    inUse: Map<string, string[]>,
  ): ImageView {
    const time = (ms: number | null) => (ms === null ? null : isoTime(ms));
    return {
      id: record.id,
      name: record.name,
      group: record.group,
      layer: record.layer,
      state: record.state,
      parent: record.parent,
      recipe_hash: record.recipe_hash,
      release: record.release,
      version: record.version,
      size: record.size,
      created_at: isoTime(record.created_at),
      baked_at: time(record.baked_at),
      bake_ms: record.bake_ms,
      error: record.error,
      channels: channels.get(record.id) ?? [],
      in_use: inUse.get(record.id) ?? [],
    };
  }

  async function bakeView(record: BakeRecord): Promise<BakeView> {
    const time = (ms: number | null) => (ms === null ? null : isoTime(ms));
    const release = record.release ? await store.releases.getById(record.release) : null;
    return {
      id: record.id,
      group: record.group,
      release: record.release,
      version: release?.version ?? null,
      reason: record.reason,
      state: record.state,
      step: record.step,
      image: record.image,
      middleware_image: record.middleware_image,
      detail: record.detail,
      error: record.error,
      output: record.output,
      requested_at: isoTime(record.requested_at),
      started_at: time(record.started_at),
      finished_at: time(record.finished_at),
    };
  }

  async function view(group?: string): Promise<ImagesView> {
    const channels = (await repo.channels()).filter((c) => !group || c.name === channelName(group));
    const byImage = new Map<string, string[]>();
    for (const c of channels) byImage.set(c.image, [...(byImage.get(c.image) ?? []), c.name]);
    const records = await repo.list(group ? { group } : {});
    const channelViews: ChannelView[] = [];
    for (const c of channels) {
      const groupName = c.name.slice(0, c.name.lastIndexOf(":"));
      const image = await repo.get(c.image);
      const desired = (await store.groups.get(groupName))?.desired_release ?? null;
      channelViews.push({
        name: c.name,
        group: groupName,
        image: c.image,
        release: image?.release ?? null,
        version: image?.version ?? null,
        up_to_date: image?.release != null && image.release === desired,
        updated_at: isoTime(c.updated_at),
      });
    }
    // The servers launched from each image (issue 15: `strata images` shows what is in use).
    const inUse = new Map<string, string[]>();
    for (const s of await store.servers.list())
      if (s.image) inUse.set(s.image, [...(inUse.get(s.image) ?? []), s.name]);
    return {
      images: records.map((r) => imageView(r, byImage, inUse)),
      channels: channelViews,
      bakes: await Promise.all(
        (await repo.listBakes({ ...(group ? { group } : {}), limit: 20 })).map(bakeView),
      ),
    };
  }

  async function bake(id: string): Promise<BakeView | null> {
    const record = await repo.getBake(id);
    return record ? bakeView(record) : null;
  }

  return { view, bake };
}
