import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  lchownSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { RunAs } from "../lib/app-user.js";
import { messageOf, StrataError } from "../lib/errors.js";
import type { FileStore } from "./file-store.js";
import { MANIFEST_FILE, type ManifestEntry } from "./manifest.js";
import { exists } from "../lib/exists.js";

/**
 * How release files come from the store. `link`: hard links to the store's
 * read-only, agent-owned blobs; only safe when the app runs as another user,
 * who can neither write nor chmod them (root could). `copy`: every file its
 * own inode (a reflink where the filesystem has them, else a copy).
 */
export type FileMode = "link" | "copy";

export interface MaterialiseOptions {
  store: FileStore;
  /** A parsed manifest (parseManifest: safe paths, parents first, no escaping links). */
  entries: ManifestEntry[];
  /** Its bytes, written as the release's MANIFEST_FILE (as extraction of the tarball would). */
  manifest: Buffer;
  /** The release folder; must not exist. */
  dest: string;
  files: FileMode;
  /** Owner of the folders, symlinks and copied files (a linked blob stays the agent's). */
  runAs?: RunAs;
}

export interface MaterialiseResult {
  files: number;
  bytes: number;
  linked: number;
  copied: number;
}

const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Builds a release folder from the store: in a hidden sibling renamed to
 * `dest` once complete (a crash leaves no half-built release). Every blob the
 * manifest names must be stored. Nothing is written outside the folder:
 * parents are made before children (the manifest lists them first), nothing
 * is created through a symlink (link() and O_EXCL never follow the new path),
 * and symlinks were checked when the manifest was parsed. A release never
 * shares a writable inode with the store or another release.
 */
export async function materialise(options: MaterialiseOptions): Promise<MaterialiseResult> {
  const target = resolve(options.dest);
  if (await exists(target)) {
    throw new StrataError("conflict", `[cas] materialise: ${target}: already exists`);
  }
  const staging = join(
    dirname(target),
    `.${basename(target)}.partial-${randomBytes(6).toString("hex")}`,
  );
  mkdirSync(dirname(target), { recursive: true });
  mkdirSync(staging, { mode: 0o755 });
  try {
    const result = build(staging, options);
    await rename(staging, target);
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (err instanceof StrataError) throw err;
    throw new StrataError("internal", `[cas] materialise: ${target}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

function build(root: string, options: MaterialiseOptions): MaterialiseResult {
  const { store, runAs } = options;
  const own = (path: string) => {
    if (runAs) lchownSync(path, runAs.uid, runAs.gid);
  };
  chmodSync(root, 0o755);
  own(root);
  const result: MaterialiseResult = { files: 0, bytes: 0, linked: 0, copied: 0 };
  for (const entry of options.entries) {
    const abs = join(root, ...entry.path.split("/"));
    if (entry.kind === "directory") {
      mkdirSync(abs, { mode: 0o755 });
      chmodSync(abs, 0o755);
      own(abs);
    } else if (entry.kind === "symlink") {
      symlinkSync(entry.target, abs);
      own(abs);
    } else {
      const blob = store.path(entry.sha256, entry.mode);
      result.files++;
      result.bytes += entry.size;
      if (options.files === "link" && tryLink(blob, abs)) {
        result.linked++;
        continue;
      }
      copyFileSync(blob, abs, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      chmodSync(abs, entry.mode);
      own(abs);
      result.copied++;
    }
  }
  const fd = openSync(join(root, MANIFEST_FILE), CREATE_FLAGS, 0o644);
  try {
    for (let written = 0; written < options.manifest.length;) {
      written += writeSync(fd, options.manifest, written);
    }
    fchmodSync(fd, 0o644);
  } finally {
    closeSync(fd);
  }
  own(join(root, MANIFEST_FILE));
  return result;
}

/** A hard link, or false where the filesystem refuses one (EMLINK: too many links to one blob). */
export function tryLink(blob: string, abs: string): boolean {
  try {
    linkSync(blob, abs);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EMLINK" || code === "EPERM" || code === "EXDEV" || code === "ENOTSUP") {
      return false;
    }
    throw err;
  }
}

/**
 * Hands the folders, symlinks and manifest of a release extracted from its
 * tarball to the app's account, as materialise() does; files stay the agent's
 * (read-only links into the store) unless they are copies.
 */
export function ownRelease(
  root: string,
  entries: ManifestEntry[],
  runAs: RunAs,
  files: FileMode,
): void {
  lchownSync(root, runAs.uid, runAs.gid);
  lchownSync(join(root, MANIFEST_FILE), runAs.uid, runAs.gid);
  for (const entry of entries) {
    if (entry.kind === "file" && files === "link") continue;
    lchownSync(join(root, ...entry.path.split("/")), runAs.uid, runAs.gid);
  }
}
