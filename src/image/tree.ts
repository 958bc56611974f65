import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { StrataError, messageOf } from "../lib/errors.js";

export type CopyMethod = "reflink" | "copy";

export interface CopyTreeOptions {
  /** Skips an entry (and, for a folder, all below it); `rel` uses `/`. */
  exclude?: (rel: string) => boolean;
  /** Checked between entries; an abort rejects and leaves a partial copy for the caller to remove. */
  signal?: AbortSignal;
  /** Files copied at once. @default 16 */
  parallel?: number;
}

export interface CopyTreeResult {
  files: number;
  bytes: number;
}

/**
 * Copies the content of `src` into the folder `dest` (created when missing;
 * existing entries are not overwritten: EEXIST rejects). Each file is a
 * reflink where the filesystem supports it (btrfs, XFS, ...), a full copy
 * otherwise, never a hard link: a server writing a file in place must not
 * reach the image or another server. Modes are kept, symlinks are recreated
 * as they are (not followed), timestamps and owners are not kept. Sockets,
 * FIFOs and devices reject with "bad_request".
 */
export async function copyTree(
  src: string,
  dest: string,
  options: CopyTreeOptions = {},
): Promise<CopyTreeResult> {
  const result: CopyTreeResult = { files: 0, bytes: 0 };
  const files: { from: string; to: string }[] = [];
  const folders: { path: string; mode: number }[] = [];

  async function walk(from: string, to: string, rel: string): Promise<void> {
    options.signal?.throwIfAborted();
    for (const entry of (await readdir(from, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (options.exclude?.(childRel)) continue;
      const a = join(from, entry.name);
      const b = join(to, entry.name);
      if (entry.isDirectory()) {
        const { mode } = await lstat(a);
        await mkdir(b, { mode: 0o700 });
        folders.push({ path: b, mode: mode & 0o7777 });
        await walk(a, b, childRel);
      } else if (entry.isFile()) {
        files.push({ from: a, to: b });
      } else if (entry.isSymbolicLink()) {
        await symlink(await readlink(a), b);
      } else {
        throw new StrataError(
          "bad_request",
          `[image] copy: ${childRel}: not a file, folder or symlink`,
        );
      }
    }
  }

  await mkdir(dest, { recursive: true });
  await walk(src, dest, "");
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      options.signal?.throwIfAborted();
      const file = files[next++]!;
      // COPYFILE_FICLONE falls back to a copy where reflinks are unsupported; libuv keeps the mode.
      await copyFile(file.from, file.to, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
      result.files++;
      result.bytes += (await lstat(file.to)).size;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel ?? 16) }, worker));
  // Folder modes last, so a read-only folder does not refuse its own files.
  for (const folder of folders.reverse()) await chmod(folder.path, folder.mode);
  return result;
}

/**
 * Apparent size of everything below `dir`: file bytes plus symlink lengths,
 * a file with several links inside `dir` counted once (an app layer's release
 * files are links to its store's blobs).
 */
export async function treeSize(dir: string, seen = new Set<string>()): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      total += await treeSize(path, seen);
      continue;
    }
    const stat = await lstat(path);
    if (stat.nlink > 1) {
      const inode = `${stat.dev}:${stat.ino}`;
      if (seen.has(inode)) continue;
      seen.add(inode);
    }
    total += stat.size;
  }
  return total;
}

/** Whether files copied within `dir` can be reflinks on this filesystem (probes with a tiny file). */
export async function probeCopyMethod(dir: string): Promise<CopyMethod> {
  await mkdir(dir, { recursive: true });
  const a = join(dir, `.probe-${randomBytes(4).toString("hex")}`);
  const b = `${a}.clone`;
  try {
    await writeFile(a, "probe");
    await copyFile(a, b, constants.COPYFILE_FICLONE_FORCE);
    return "reflink";
  } catch {
    return "copy";
  } finally {
    await rm(a, { force: true });
    await rm(b, { force: true });
  }
}

/** argv that copies the content of `src` into the existing folder `dest` with GNU cp, reflinks where possible. */
export function cpCloneArgv(src: string, dest: string): string[] {
  return ["cp", "-a", "--reflink=auto", "--", `${src}/.`, dest];
}

/** Whether `cp` is GNU cp (it knows `--reflink`). */
export async function hasGnuCp(): Promise<boolean> {
  try {
    const { stdout } = await promisify(execFile)("cp", ["--version"]);
    return stdout.includes("GNU coreutils");
  } catch {
    return false;
  }
}

export interface CloneTreeOptions {
  /** Use GNU cp (one process, about 3x faster than copyTree on thousands of small files). */
  gnuCp: boolean;
  signal?: AbortSignal;
}

/**
 * Copies the content of `src` into `dest` (created when missing) with the
 * guarantees of copyTree: reflinks or full copies, never hard links to
 * `src`. With `gnuCp`, timestamps are kept too.
 */
export async function cloneTree(
  src: string,
  dest: string,
  options: CloneTreeOptions,
): Promise<void> {
  if (!options.gnuCp) {
    await copyTree(src, dest, options.signal ? { signal: options.signal } : {});
    return;
  }
  await mkdir(dest, { recursive: true });
  const [file, ...args] = cpCloneArgv(src, dest);
  try {
    await promisify(execFile)(file!, args, { signal: options.signal, maxBuffer: 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new StrataError("internal", `[image] copy ${src}: ${stderr || messageOf(err)}`, {
      cause: err,
    });
  }
}
