import type { Clock } from "../lib/clock.js";
import type { ImageRecord } from "../store/image-repo.js";
import type { Store } from "../store/store.js";
import type { ImageConfig } from "./image-config.js";
import { channelName } from "./image-views.js";
import { hashRecipe } from "./recipe.js";

export interface ImageChannelOptions {
  /** The channel lives in `store.images`; groups are only read. */
  store: Store;
  config: ImageConfig;
  clock: Clock;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

/** `<group>:current`: which image a group's new servers launch from. */
export interface ImageChannel {
  /** Points the channel at the app image when its release is (still) the desired one. */
  move(group: string, app: ImageRecord): Promise<boolean>;
  /**
   * Image a new server of the group launches from: the channel target; before
   * the first app image, the newest middleware image (a server never misses
   * its recipe); null for the provider's base. May run concurrently.
   */
  imageFor(group: string): Promise<string | null>;
  /** Whether the channel's image runs `desiredRelease` on the group's current recipe. */
  isCurrent(group: string, desiredRelease: string): Promise<boolean>;
}

export function createImageChannel(options: ImageChannelOptions): ImageChannel {
  const { store, config, clock, audit } = options;
  const repo = store.images;
  return {
    async move(group, app) {
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

    async isCurrent(group, desiredRelease) {
      const channel = await repo.channel(channelName(group));
      const target = channel ? await repo.get(channel.image) : null;
      const recipe = config.groups[group]?.recipe ?? null;
      const recipeHash = recipe ? await hashRecipe(recipe).catch(() => null) : null;
      return target?.release === desiredRelease && target.recipe_hash === recipeHash;
    },
  };
}
