import { z } from "zod";
import { groupName } from "./names.js";

/** Golden images as the HTTP API and the CLI show them. Times are ISO strings. */

export type ImageStateView = "queued" | "saving" | "active" | "killed";

export interface ImageView {
  id: string;
  name: string;
  group: string;
  layer: "middleware" | "app";
  state: ImageStateView;
  /** Image it was baked on; null for the provider's base. */
  parent: string | null;
  recipe_hash: string | null;
  release: string | null;
  version: string | null;
  size: number | null;
  created_at: string;
  baked_at: string | null;
  /** How long the bake of this layer took. */
  bake_ms: number | null;
  error: string | null;
  /** Channels pointing at it (`web:current`). */
  channels: string[];
  /** Live servers launched from it (gc keeps it while there are any). */
  in_use: string[];
}

export interface BakeView {
  id: string;
  group: string;
  release: string | null;
  version: string | null;
  reason: "deploy" | "manual" | "start";
  state: "queued" | "running" | "succeeded" | "skipped" | "failed";
  step: string | null;
  image: string | null;
  middleware_image: string | null;
  detail: string | null;
  error: string | null;
  /** provision.sh output (bounded); set when it ran. */
  output: string | null;
  requested_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ChannelView {
  /** `<group>:current`. */
  name: string;
  group: string;
  image: string;
  release: string | null;
  version: string | null;
  /** Whether the image's app is the group's desired release (false: new servers fetch at boot). */
  up_to_date: boolean;
  updated_at: string;
}

/** `GET /v1/images`. */
export interface ImagesView {
  images: ImageView[];
  channels: ChannelView[];
  /** Newest first. */
  bakes: BakeView[];
}

/** `POST /v1/images/bakes` body. */
export const BakeRequestSchema = z.strictObject({ group: groupName });
export type BakeRequest = z.infer<typeof BakeRequestSchema>;

/** `POST /v1/images/gc` body. */
export const GcRequestSchema = z.strictObject({
  /** @default the configured images.keep */
  keep: z.int().min(0).max(1000).optional(),
  /** @default false */
  dry_run: z.boolean().optional(),
});
export type GcRequest = z.infer<typeof GcRequestSchema>;

export interface GcView {
  dry_run: boolean;
  keep: number;
  deleted: { id: string; name: string; reason: string }[];
  kept: { id: string; name: string; reason: string }[];
}

/** Most servers one group may have through `fleet up` / `fleet scale`. */
export const MAX_GROUP_SERVERS = 250;

/** `POST /v1/fleet/scale` and `POST /v1/fleet/up` body. */
export const ScaleRequestSchema = z.strictObject({
  group: groupName,
  count: z.int().min(0).max(MAX_GROUP_SERVERS),
});
export type ScaleRequest = z.infer<typeof ScaleRequestSchema>;

/** `POST /v1/fleet/down` body: one group, or every group when `all` is set (never by omission). */
export const FleetDownRequestSchema = z.union([
  z.strictObject({ group: groupName }),
  z.strictObject({ all: z.literal(true) }),
]);
export type FleetDownRequest = z.infer<typeof FleetDownRequestSchema>;

export interface ScaleView {
  group: string;
  count: number;
  /** Image new servers launched from (null: the provider's base). */
  image: string | null;
  launched: string[];
  terminated: string[];
}
