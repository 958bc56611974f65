import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fchmodSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { readdir, readFile, rm, writeFile, rename, mkdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * A server's content-addressed file store, `<root>/store/`: every file
 * content a release of this server holds, once per (sha256, exec bit), as a
 * read-only file owned by the agent. Releases are built from it
 * (materialise.ts); the manifests of the releases built are kept beside it,
 * and collect() drops what no release on disk names.
 */
export interface FileStore {
  readonly dir: string;
  /** Path of a blob. Pure. */
  path(sha256: string, mode: 0o644 | 0o755): string;
  /** Whether a blob is stored. Synchronous: called once per file of a manifest. */
  has(sha256: string, mode: 0o644 | 0o755): boolean;
  /**
   * Stores verified bytes as a blob (0444, or 0555 for an exec file): written
   * beside it, then renamed, so a reader never sees half a blob. Idempotent.
   */
  write(sha256: string, mode: 0o644 | 0o755, data: Uint8Array): void;
  /**
   * Takes a file of a release extracted from its verified tarball into the
   * store, checked: `link` links it into the store's private folder, `copy`
   * copies it there (a reflink where the filesystem has them); the store's own
   * name is then hashed, made read-only (for `link`, the release's file is the
   * same read-only inode) and renamed into place. Safe while the app runs: a
   * file the app replaced, removed or changed since the extraction fails the
   * check and stays out (false; the next deploy fetches that content). True
   * when the blob is stored, also when it was already.
   */
  adopt(sha256: string, mode: 0o644 | 0o755, file: string, how: "link" | "copy"): boolean;
  /** Makes the blob of the other exec bit from one stored (a copy: modes live on inodes). */
  copyMode(sha256: string, from: 0o644 | 0o755): void;
  /** Keeps the manifest of release `id` (hex) while its folder exists. */
  keepManifest(hex: string, bytes: Buffer): Promise<void>;
  /**
   * Removes every blob that no kept manifest of a release still on disk
   * (`liveReleases`: hex ids) names, and the manifests of releases gone.
   * Returns what remains. Not concurrent with a materialise.
   */
  collect(liveReleases: Set<string>): Promise<StoreUsage>;
  /** Bytes and blobs stored, as of the last collect() or write. */
  readonly usage: StoreUsage;
}

export interface StoreUsage {
  bytes: number;
  blobs: number;
}

const WRITE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function createFileStore(root: string): FileStore {
  const dir = join(root, "store");
  const blobs = join(dir, "blobs");
  const manifests = join(dir, "manifests");
  const tmp = join(dir, "tmp");
  const usage: StoreUsage = { bytes: 0, blobs: 0 };
  const made = new Set<string>();
  const tempPrefix = `${process.pid}-${randomBytes(4).toString("hex")}-`;
  let temps = 0;
  let prepared = false;
  const prepare = () => {
    if (prepared) return;
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    mkdirSync(manifests, { recursive: true, mode: 0o700 });
    prepared = true;
  };
  const nameOf = (sha256: string, mode: 0o644 | 0o755) => (mode === 0o755 ? `${sha256}.x` : sha256);
  const path = (sha256: string, mode: 0o644 | 0o755) =>
    join(blobs, sha256.slice(0, 2), nameOf(sha256, mode));
  /**
   * The blob names stored, read once from the fan-out folders (a few hundred
   * readdirs instead of a stat per file of every manifest), then kept current:
   * the agent is the store's only writer.
   */
  let known: Set<string> | null = null;
  const names = () => {
    if (known) return known;
    known = new Set();
    for (const fan of existsSync(blobs) ? readdirSync(blobs) : []) {
      for (const name of readdirSync(join(blobs, fan))) known.add(name);
    }
    return known;
  };
  const place = (temp: string, sha256: string, mode: 0o644 | 0o755) => {
    const fan = join(blobs, sha256.slice(0, 2));
    if (!made.has(fan)) {
      // A hard link needs no path to the store: the app user never enters it.
      mkdirSync(fan, { recursive: true, mode: 0o700 });
      made.add(fan);
    }
    renameSync(temp, path(sha256, mode));
    names().add(nameOf(sha256, mode));
  };

  return {
    dir,
    path,
    has: (sha256, mode) => names().has(nameOf(sha256, mode)),
    write(sha256, mode, data) {
      prepare();
      const temp = join(tmp, `${tempPrefix}${++temps}`);
      // Created read-only: the mode applies to later opens, not to this descriptor.
      const fd = openSync(temp, WRITE_FLAGS, mode === 0o755 ? 0o555 : 0o444);
      try {
        for (let written = 0; written < data.length;) {
          written += writeSync(fd, data, written);
        }
      } finally {
        closeSync(fd);
      }
      place(temp, sha256, mode);
      usage.bytes += data.length;
      usage.blobs++;
    },
    adopt(sha256, mode, file, how) {
      if (names().has(nameOf(sha256, mode))) return true;
      prepare();
      const temp = join(tmp, `${tempPrefix}${++temps}`);
      try {
        // link() does not follow a symlink the app may have put at `file`: O_NOFOLLOW below refuses it.
        if (how === "link") linkSync(file, temp);
        else copyFileSync(file, temp, constants.COPYFILE_FICLONE);
      } catch (err) {
        if (isGone(err)) return false;
        throw err;
      }
      if (!holds(temp, sha256, mode === 0o755 ? 0o555 : 0o444)) {
        unlinkSync(temp);
        return false;
      }
      place(temp, sha256, mode);
      usage.blobs++;
      return true;
    },
    copyMode(sha256, from) {
      prepare();
      const to = from === 0o755 ? 0o644 : 0o755;
      const temp = join(tmp, randomBytes(8).toString("hex"));
      copyFileSync(path(sha256, from), temp, constants.COPYFILE_FICLONE);
      fchmodOf(temp, to === 0o755 ? 0o555 : 0o444);
      place(temp, sha256, to);
      usage.blobs++;
    },
    async keepManifest(hex, bytes) {
      prepare();
      const temp = join(tmp, `${hex}.manifest`);
      await writeFile(temp, bytes, { mode: 0o600 });
      await rename(temp, join(manifests, hex));
    },
    async collect(liveReleases) {
      prepare();
      // Sizes come from the manifests: no stat of every blob.
      const wanted = new Map<string, number>();
      for (const name of await readdir(manifests)) {
        if (!liveReleases.has(name)) {
          await rm(join(manifests, name), { force: true });
          continue;
        }
        const text = await readFile(join(manifests, name), "utf8");
        for (const line of text.split("\n")) {
          if (!line.startsWith('["f"')) continue;
          const [, , mode, size, sha256] = JSON.parse(line) as [
            string,
            string,
            string,
            number,
            string,
          ];
          wanted.set(mode === "0755" ? `${sha256}.x` : sha256, size);
        }
      }
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { mode: 0o700 });
      let bytes = 0;
      let count = 0;
      const fans = await readdir(blobs).catch(() => [] as string[]);
      for (const fan of fans) {
        for (const name of await readdir(join(blobs, fan))) {
          const size = wanted.get(name);
          if (size === undefined) {
            await rm(join(blobs, fan, name), { force: true });
            known?.delete(name);
            continue;
          }
          bytes += size;
          count++;
        }
      }
      usage.bytes = bytes;
      usage.blobs = count;
      return { ...usage };
    },
    get usage() {
      return { ...usage };
    },
  };
}

const CHUNK = 1024 * 1024;
let chunk: Buffer | null = null;

/**
 * Whether the regular file at `file` (the store's own name: nothing outside
 * the store can swap it) holds `sha256`; if so it is made `readOnly`.
 */
function holds(file: string, sha256: string, readOnly: number): boolean {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") return false;
    throw err;
  }
  try {
    if (!fstatSync(fd).isFile()) return false;
    const hash = createHash("sha256");
    chunk ??= Buffer.allocUnsafe(CHUNK);
    for (let n; (n = readSync(fd, chunk, 0, CHUNK, null)) > 0;) hash.update(chunk.subarray(0, n));
    if (hash.digest("hex") !== sha256) return false;
    fchmodSync(fd, readOnly);
    return true;
  } finally {
    closeSync(fd);
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // EPERM, EISDIR: a folder where the file was (link() and copyFile() refuse one).
  return code === "ENOENT" || code === "ENOTDIR" || code === "EPERM" || code === "EISDIR";
}

function fchmodOf(file: string, mode: number): void {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
