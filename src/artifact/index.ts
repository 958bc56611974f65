import { StrataError } from "../lib/errors.js";
import { createLocalArtifactStore, type LocalArtifactStoreOptions } from "./local/local-store.js";
import { createS3ArtifactStore, type S3ArtifactStoreOptions } from "./s3/s3-store.js";
import type { ArtifactStore } from "./store.js";

export { createDigest, digestFile, isReleaseId, type Digest } from "./digest.js";
export { packDirectory, type PackOptions, type PackResult } from "./pack.js";
export {
  extractArchive,
  verifyArchive,
  type ExtractOptions,
  type ExtractResult,
} from "./extract.js";
export { fetchArtifact, type FetchArtifactOptions } from "./download.js";
export { ensureReleaseSigner, verifyReleaseSignature, type ReleaseSigner } from "./signing.js";
export { verifyStoredRelease } from "./verify.js";
export { createIgnoreMatcher, IGNORE_FILE } from "./ignore.js";
export type { ArtifactStore } from "./store.js";
export {
  createLocalArtifactStore,
  localArtifactPath,
  type LocalArtifactStoreOptions,
} from "./local/local-store.js";

export {
  createS3ArtifactStore,
  type S3ArtifactStore,
  type S3ArtifactStoreOptions,
} from "./s3/s3-store.js";

/** Options of each store kind. */
export interface ArtifactStoreOptionsByKind {
  local: LocalArtifactStoreOptions;
  s3: S3ArtifactStoreOptions;
}

export type ArtifactStoreKind = keyof ArtifactStoreOptionsByKind;

/**
 * Builds the store named by `kind` (from configuration). An unknown kind is
 * rejected with StrataError("invalid_config") naming the known ones.
 */
export function createArtifactStore<K extends ArtifactStoreKind>(
  kind: K,
  options: ArtifactStoreOptionsByKind[K],
): ArtifactStore {
  switch (kind as string) {
    case "local":
      return createLocalArtifactStore(options as LocalArtifactStoreOptions);
    case "s3":
      return createS3ArtifactStore(options as S3ArtifactStoreOptions);
    default:
      throw new StrataError(
        "invalid_config",
        `[artifact] unknown store kind "${String(kind)}" (known: local, s3)`,
      );
  }
}
