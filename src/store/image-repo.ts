import type { ImageState } from "../image/image-store.js";

export type ImageLayerKind = "middleware" | "app";

/** strata's record of one image (the image store holds the content). Times are epoch milliseconds. */
export interface ImageRecord {
  /** The image store's id. */
  id: string;
  /** Group whose bake made it (images with equal bake keys are shared between groups). */
  group: string;
  layer: ImageLayerKind;
  name: string;
  /** Image it was baked on; null for the provider's base. */
  parent: string | null;
  /** Middleware: its recipe's hash. App: its parent's recipe hash (null on the base). */
  recipe_hash: string | null;
  /** App only. */
  release: string | null;
  version: string | null;
  /** What makes two bakes identical: layer, parent and recipe hash or release. */
  bake_key: string;
  state: ImageState;
  size: number | null;
  created_at: number;
  baked_at: number | null;
  bake_ms: number | null;
  error: string | null;
}

export type BakeState = "queued" | "running" | "succeeded" | "skipped" | "failed";
export type BakeReason = "deploy" | "manual" | "start";

/** One request to bring a group's images in step with its desired release. */
export interface BakeRecord {
  id: string;
  group: string;
  /** The release to bake (the group's desired release when requested). */
  release: string | null;
  reason: BakeReason;
  state: BakeState;
  /** What runs now, for progress: `middleware`, `app`. */
  step: string | null;
  /** The app image made or found. */
  image: string | null;
  middleware_image: string | null;
  /** Why it was skipped, or what it did. */
  detail: string | null;
  error: string | null;
  /** provision.sh output (bounded). */
  output: string | null;
  requested_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** A named pointer to an image: `<group>:current`. */
export interface ChannelRecord {
  name: string;
  image: string;
  updated_at: number;
}

/**
 * Durable image state of the control plane (SQLite embedded, PostgreSQL at
 * scale). Every method is one transaction; methods may run concurrently.
 */
export interface ImageRepo {
  insert(image: ImageRecord): Promise<void>;
  get(id: string): Promise<ImageRecord | null>;
  /** Newest first (by created_at). */
  list(filter?: {
    group?: string;
    layer?: ImageLayerKind;
    states?: ImageState[];
  }): Promise<ImageRecord[]>;
  /** The newest active image with this bake key, if any. */
  findActive(bakeKey: string): Promise<ImageRecord | null>;
  update(id: string, patch: Partial<Omit<ImageRecord, "id">>): Promise<void>;
  /** Removes the record; idempotent. */
  delete(id: string): Promise<void>;

  insertBake(bake: BakeRecord): Promise<void>;
  getBake(id: string): Promise<BakeRecord | null>;
  /** Newest first (by requested_at). @default limit 50 */
  listBakes(filter?: {
    group?: string;
    states?: BakeState[];
    limit?: number;
  }): Promise<BakeRecord[]>;
  updateBake(id: string, patch: Partial<Omit<BakeRecord, "id">>): Promise<void>;

  channel(name: string): Promise<ChannelRecord | null>;
  channels(): Promise<ChannelRecord[]>;
  /** Points the channel at `image` (creating it). Idempotent. */
  setChannel(name: string, image: string, at: number): Promise<void>;
  /** Removes the channel (its group is removed). Idempotent. */
  deleteChannel(name: string): Promise<void>;
}
