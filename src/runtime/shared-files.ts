import { copyFile, lchown, lstat, mkdir, readlink, rm, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { giveTree, type RunAs } from "../lib/app-user.js";
import { StrataError } from "../lib/errors.js";
import { sharedDir } from "../lib/server-root.js";

/**
 * Why `path` cannot be a shared entry (Capistrano's linked_files / linked_dirs), or null.
 * Entries are relative to the release folder; a trailing `/` makes a folder.
 */
export function sharedPathProblem(path: string): string | null {
  if (path.startsWith("/")) return "must be relative to the release folder (no leading /)";
  const segments = (path.endsWith("/") ? path.slice(0, -1) : path).split("/");
  if (segments.includes("..")) return "must not contain ..";
  if (segments.some((s) => s === "" || s === ".")) return "must not have empty or . segments";
  if (/[\0\\]/.test(path)) return "must not contain a backslash or NUL";
  return null;
}

/** Folders end in `/`; the rest are files. */
const isFolder = (entry: string) => entry.endsWith("/");
const bare = (entry: string) => (isFolder(entry) ? entry.slice(0, -1) : entry);

/**
 * Links each shared entry of a release to `<root>/shared/<entry>` (relative links, so the
 * root can move), before any hook runs: what the app writes there outlives releases. A
 * folder is made when missing; a file is seeded once from the release's own copy if it has
 * one. Whatever the release ships at an entry is replaced by the link. Idempotent.
 * Returns a line for the step's output.
 */
export async function linkShared(
  root: string,
  releaseDir: string,
  entries: readonly string[],
  runAs?: RunAs,
): Promise<string> {
  const shared = sharedDir(root);
  await mkdir(shared, { recursive: true });
  for (const entry of entries) {
    const problem = sharedPathProblem(entry);
    if (problem) throw new StrataError("bad_request", `[agent] shared: ${entry} ${problem}`);
    const path = bare(entry);
    const target = join(shared, path);
    const link = join(releaseDir, path);
    await refuseLinkedParents(releaseDir, path);
    await mkdir(dirname(link), { recursive: true });
    const folder = isFolder(entry) ? target : dirname(target);
    await mkdir(folder, { recursive: true });
    if (runAs) await giveTree(folder, runAs);
    const there = await lstat(link).catch(() => null);
    const wanted = relative(dirname(link), target);
    if (there?.isSymbolicLink() && (await readlink(link)) === wanted) continue;
    if (!isFolder(entry) && there?.isFile() && !(await lstat(target).catch(() => null))) {
      await copyFile(link, target);
      if (runAs) await lchown(target, runAs.uid, runAs.gid);
    }
    await rm(link, { recursive: true, force: true });
    await symlink(wanted, link);
  }
  return `${entries.length} shared ${entries.length === 1 ? "entry" : "entries"} linked`;
}

/** A release whose parent folders of an entry are links could point the link outside it. */
async function refuseLinkedParents(releaseDir: string, path: string): Promise<void> {
  const segments = path.split("/").slice(0, -1);
  let at = releaseDir;
  for (const segment of segments) {
    at = join(at, segment);
    const stat = await lstat(at).catch(() => null);
    if (stat?.isSymbolicLink()) {
      throw new StrataError(
        "bad_request",
        `[agent] shared: ${path}: ${relative(releaseDir, at)} in the release is a symbolic link`,
      );
    }
  }
}
