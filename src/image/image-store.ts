import { StrataError, type ErrorCode } from "../lib/errors.js";
import type { ReleaseGrant } from "./release-grants.js";

/**
 * Glance's image states that strata uses: registered (`queued`), content
 * being written (`saving`), usable (`active`), failed and never usable
 * (`killed`). Deleted images are gone from the store.
 */
export type ImageState = "queued" | "saving" | "active" | "killed";

/** One image as the store records it (Glance: an image with additional properties). */
export interface Image {
  /** Opaque id chosen by the store (Glance: a UUID). */
  id: string;
  name: string;
  state: ImageState;
  /** Bytes of content once active; null before. */
  size: number | null;
  /** Free-form string properties (Glance caps keys at 255 characters and values at 65,535 bytes). */
  properties: Readonly<Record<string, string>>;
  /** ISO times. */
  created_at: string;
  updated_at: string;
}

export interface ImageSpec {
  name: string;
  /** @default {} */
  properties?: Record<string, string>;
}

/**
 * A provisioning recipe: the folder's files are copied into the image root,
 * then its `provision.sh` (when present) runs with cwd = that root.
 */
export interface RecipeLayer {
  kind: "recipe";
  /** Absolute path of the recipe folder. */
  dir: string;
  /** Longest run of provision.sh; it is killed (with everything it started) after. */
  timeoutMs: number;
  /** Extra environment for provision.sh (the control plane's STRATA_* variables never reach it). @default {} */
  env?: Record<string, string>;
}

/**
 * A release baked in the way the agent would install it: `releases/<dir>`
 * unpacked, `current` pointing at it and `activations.json` naming its version.
 */
export interface ReleaseLayer {
  kind: "release";
  release: { id: string; version: string };
  /** Writes the verified release tarball to `dest`. */
  download: (dest: string, signal: AbortSignal) => Promise<void>;
  /**
   * For a builder that fetches the release itself (Glance: Nova user data is
   * at most 65,535 bytes): the artifact's URL and a credential that reads only
   * it while image `image` (the queued one being built) bakes, for at most
   * `ttlMs`. Absent when the caller offers none: the store uses `download`.
   */
  fetchGrant?: (image: string, ttlMs: number) => ReleaseGrant;
}

export type ImageLayer = RecipeLayer | ReleaseLayer;

export interface BuildRequest {
  /** Active image the layer goes on; null means the provider's base (an empty root locally). */
  parent: string | null;
  layer: ImageLayer;
}

export interface BuildResult {
  image: Image;
  /** What the layer printed (provision.sh output; empty for a release layer). */
  output: string;
}

/**
 * Where golden images live. Sized for Glance (with Nova snapshots doing the
 * building): images have ids, Glance states and string properties; building a
 * layer is one asynchronous operation that ends `active` or `killed`. The
 * local implementation keeps each image as a folder holding a server root.
 */
export interface ImageStore {
  /** Store name as used in config (`local`, `glance`). */
  readonly name: string;
  /** Registers an image in `queued`. Not idempotent: each call adds one. May run concurrently. */
  create(spec: ImageSpec): Promise<Image>;
  /**
   * Fills a `queued` image: a copy of the parent's content with `layer`
   * applied on top; `queued` -> `saving` -> `active`. The built image may
   * have another id (Glance: Nova's snapshot picks its own, and the queued
   * image is deleted): use the one in the result from then on. On failure the image
   * ends `killed`, its partial content is removed, and the call rejects with
   * an ImageBuildError carrying the layer's output. The parent is never
   * changed. Called once per image; builds of different images may run
   * concurrently. Aborting `signal` kills the image.
   */
  build(id: string, request: BuildRequest, signal?: AbortSignal): Promise<BuildResult>;
  /** One image, or null when unknown or deleted. May run concurrently with anything. */
  get(id: string): Promise<Image | null>;
  /** Images carrying all the given properties, newest first. */
  list(properties?: Record<string, string>): Promise<Image[]>;
  /**
   * Deletes the image and its content. Idempotent. The caller makes sure no
   * build uses it as a parent meanwhile; servers already launched from it are
   * unaffected.
   */
  delete(id: string): Promise<void>;
}

/** A build that failed; `output` is what the layer printed before it failed (bounded). */
export class ImageBuildError extends StrataError {
  readonly output: string;

  constructor(code: ErrorCode, message: string, output: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ImageBuildError";
    this.output = output;
  }
}
