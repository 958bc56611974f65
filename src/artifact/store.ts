import type { Readable } from "node:stream";

/**
 * Parts stored beside a tarball: the release's manifest (as packed, gzip'd),
 * the index of its blobs, and the blobs themselves (src/cas/release-index.ts).
 */
export type ArtifactPart = "manifest" | "index" | "blobs";

/**
 * Content-addressed release tarballs, keyed by release id (`sha256:<hex>` of
 * the bytes). The embedded control plane keeps them in a local folder; S3
 * (and S3-compatible stores) will implement the same interface.
 */
export interface ArtifactStore {
  /**
   * Stores the tarball read from `source` under `id`, verifying sha256 while
   * streaming; on mismatch rejects with StrataError("checksum_mismatch", names
   * both ids) and stores nothing. Called by the server on upload. Idempotent:
   * an id already stored is kept (the upload is still read and verified).
   * May run concurrently, also for the same id. Rejects a malformed id with
   * "bad_request".
   */
  put(id: string, source: NodeJS.ReadableStream | Readable): Promise<{ size: number }>;
  /**
   * Opens the stored bytes as they are (no verification: the agent verifies).
   * null when missing. Called for every agent download; may run concurrently
   * with anything, and a stream already open survives a delete().
   */
  open(id: string): Promise<{ stream: Readable; size: number } | null>;
  /** Whether `id` is stored. May run concurrently. */
  has(id: string): Promise<boolean>;
  /**
   * Stores a derived part of release `id` beside its tarball (the release
   * index of src/cas/release-index.ts), replacing one stored before. Called at
   * upload, after the tarball is verified. Idempotent; may run concurrently.
   */
  putPart(id: string, part: ArtifactPart, bytes: Buffer): Promise<void>;
  /**
   * Opens a stored part, or bytes `start`..`end` of it (inclusive, as an HTTP
   * range); null when missing. Called for agents' manifest and pack requests;
   * may run concurrently with anything.
   */
  openPart(
    id: string,
    part: ArtifactPart,
    range?: { start: number; end: number },
  ): Promise<{ stream: Readable; size: number } | null>;
  /** Removes `id` and its parts; idempotent (missing is fine). Called by garbage collection. */
  delete(id: string): Promise<void>;
  /**
   * A URL that serves `id` for a few minutes to anyone holding it, without
   * store credentials (S3: a presigned GET). The control plane redirects each
   * agent download there, so agents never hold store credentials and the bytes
   * do not pass through the control plane. Absent on stores that the control
   * plane serves itself (local). May run concurrently.
   */
  presign?(id: string): Promise<string>;
}
