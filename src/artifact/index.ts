import { StrataError } from "../lib/errors.js";
import { createLocalArtifactStore, type LocalArtifactStoreOptions } from "./local/local-store.js";
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

/** Options of each store kind. An S3 store adds its entry here. */
export interface ArtifactStoreOptionsByKind {
  local: LocalArtifactStoreOptions;
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
    default:
      throw new StrataError(
        "invalid_config",
        `[artifact] unknown store kind "${String(kind)}" (known: local)`,
      );
  }
}
