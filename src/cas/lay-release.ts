import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { extractArchive, type ExtractOptions } from "../artifact/extract.js";
import { releaseDir, releaseDirName } from "../lib/server-root.js";
import { createFileStore } from "./file-store.js";
import { MANIFEST_FILE, parseManifest } from "./manifest.js";
import { materialise, type FileMode } from "./materialise.js";

export interface LayReleaseOptions {
  /** The server root (or image root) to lay the release into: `store/`, `releases/`, `tmp/`. */
  root: string;
  releaseId: string;
  /** The release's tarball, its checksum already verified against `releaseId`. */
  tarball: string;
  /**
   * How the release folder's files come from the store (see FileMode). An
   * image's root takes `link`: the release then costs no second copy of its
   * bytes, a clone with GNU cp keeps the links, and an agent whose apps run
   * as its own account gives its store its own inodes at boot (unshareStore).
   * @default "copy"
   */
  files?: FileMode;
  /** Size and entry limits, as for extracting the tarball. */
  extract?: ExtractOptions;
}

export interface LaidRelease {
  /** Files and file bytes of the release. */
  files: number;
  bytes: number;
  /** Whether the release went through the store (false: the tarball has no manifest, it was only extracted). */
  stored: boolean;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_ENTRIES = 200_000;

/**
 * Lays a release into a root as an agent's everyday deploy leaves it: every
 * file content in the root's content-addressed store, the release folder
 * materialised from the store (the agent's own materialise()), its manifest
 * kept beside the store so the agent's collection keeps its blobs. A server
 * whose root holds this (a golden image's app layer) builds its next release
 * from the store and fetches only the contents it lacks. A tarball without a
 * manifest (an older `strata build`) is only extracted, as before the store.
 * The tarball's checksum vouches for its files and manifest, as on the
 * agent's whole-tarball path (the upload checked the manifest against the
 * archive). Leaves no release folder behind when it rejects.
 */
export async function layRelease(options: LayReleaseOptions): Promise<LaidRelease> {
  const { root } = options;
  const dest = releaseDir(root, options.releaseId);
  const scratch = join(
    root,
    "tmp",
    `${releaseDirName(options.releaseId)}.${randomBytes(4).toString("hex")}`,
  );
  await mkdir(join(root, "tmp"), { recursive: true });
  try {
    const { files, bytes } = await extractArchive(options.tarball, scratch, options.extract);
    const manifest = await readFile(join(scratch, MANIFEST_FILE)).catch(() => null);
    if (!manifest) {
      await mkdir(dirname(dest), { recursive: true });
      await rename(scratch, dest);
      return { files, bytes, stored: false };
    }
    const entries = parseManifest(manifest, {
      maxBytes: options.extract?.maxBytes ?? DEFAULT_MAX_BYTES,
      maxEntries: options.extract?.maxEntries ?? DEFAULT_MAX_ENTRIES,
    });
    const store = createFileStore(root);
    // Linked in and then unlinked from the scratch folder: each blob is then the store's own inode.
    for (const entry of entries) {
      if (entry.kind !== "file") continue;
      store.adopt(entry.sha256, entry.mode, join(scratch, ...entry.path.split("/")), "link");
    }
    const made = await materialise({
      store,
      entries,
      manifest,
      dest,
      files: options.files ?? "copy",
    });
    await store.keepManifest(releaseDirName(options.releaseId).replace(/^sha256-/, ""), manifest);
    return { files: made.files, bytes: made.bytes, stored: true };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
