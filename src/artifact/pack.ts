import { closeSync, constants, createWriteStream, fstatSync, openSync, readSync } from "node:fs";
import { readdir, readFile, readlink, rename, rm } from "node:fs/promises";
import { createHash, randomBytes, type Hash } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { messageOf, StrataError } from "../lib/errors.js";
import { encodeManifest, MANIFEST_FILE, type ManifestEntry } from "../cas/manifest.js";
import { createDigest } from "./digest.js";
import { entryComponents, lexicalTargetEscape, symlinkEscape } from "./entry-path.js";
import { createSelfMatcher, IGNORE_FILE } from "./ignore.js";
import { parallelGzip } from "./parallel-gzip.js";
import { BLOCK_SIZE, encodeHeader, paddingFor, RECORD_SIZE } from "./tar-format.js";

export interface PackOptions {
  /** Extra ignore patterns on top of .strataignore. */
  ignore?: string[];
  /** Called with files done / total while packing. */
  onProgress?: (done: number, total: number) => void;
  /**
   * gzip level, 0 (store) to 9 (smallest). Part of the id: the same folder
   * packed at another level gives another id.
   * @default 6
   */
  level?: number;
}

export interface PackResult {
  file: string;
  id: string;
  size: number;
  fileCount: number;
}

/** Names never packed, at any depth. */
const ALWAYS_IGNORED = new Set([".git"]);
/** Size of the tar pieces handed to gzip, and so the most one synchronous read asks for. */
const CHUNK_SIZE = 256 * 1024;

type PackEntry =
  | { kind: "directory"; rel: string }
  | { kind: "file"; rel: string; abs: string }
  | { kind: "symlink"; rel: string; target: string };

/**
 * Packs `dir` into a gzip'd tar at `outFile`, hashing while streaming.
 * Deterministic: identical content gives an identical id (for a given zlib
 * build and level; gzip runs on several cores but its output does not depend
 * on how many). Only paths, contents, the exec bit and symlink targets
 * reach the archive: mtime 0, uid/gid 0, no user/group names, files 0644 or
 * 0755, directories 0755. A symlink leading outside `dir`, or a socket/FIFO/
 * device, rejects the pack (StrataError "bad_request"): ignore it instead.
 * `outFile` is written to a temp file beside it and renamed when complete.
 */
export async function packDirectory(
  dir: string,
  outFile: string,
  options: PackOptions = {},
): Promise<PackResult> {
  const root = resolve(dir);
  const out = resolve(outFile);
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new StrataError(
      "bad_request",
      `[artifact] pack: level must be an integer 0-9, got ${level}`,
    );
  }
  try {
    return await packInto(root, out, options);
  } catch (err) {
    if (err instanceof StrataError) throw err;
    const code = (err as NodeJS.ErrnoException).code === "ENOENT" ? "not_found" : "internal";
    throw new StrataError(code, `[artifact] pack: ${root}: ${messageOf(err)}`, { cause: err });
  }
}

async function packInto(root: string, out: string, options: PackOptions): Promise<PackResult> {
  const ignored = createSelfMatcher([...(await readIgnoreFile(root)), ...(options.ignore ?? [])]);
  const entries = await walk(root, ignored, new Set([out]));
  const total = entries.filter((entry) => entry.kind === "file").length;
  options.onProgress?.(0, total);

  const digest = createDigest();
  let size = 0;
  let done = 0;
  const temp = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await pipeline(
      tarStream(entries, () => options.onProgress?.(++done, total)),
      parallelGzip({ level: options.level ?? 6 }),
      async function* (gzipped: AsyncIterable<Buffer>) {
        for await (const chunk of gzipped) {
          digest.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(temp, { flags: "wx", mode: 0o644 }),
    );
    await rename(temp, out);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return { file: out, id: digest.id(), size, fileCount: total };
}

async function readIgnoreFile(root: string): Promise<string[]> {
  try {
    return [await readFile(join(root, IGNORE_FILE), "utf8")];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Lists what will be packed, depth first, siblings sorted, each folder before its contents. */
async function walk(
  root: string,
  ignored: (rel: string, isDir: boolean) => boolean,
  skip: Set<string>,
): Promise<PackEntry[]> {
  const entries: PackEntry[] = [];
  const links = new Map<string, string>();

  async function visit(abs: string, rel: string): Promise<void> {
    const children = await readdir(abs, { withFileTypes: true });
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const child of children) {
      const childAbs = join(abs, child.name);
      const childRel = rel === "" ? child.name : `${rel}/${child.name}`;
      if (ALWAYS_IGNORED.has(child.name) || skip.has(childAbs)) continue;
      if (childRel === MANIFEST_FILE) continue; // written by the pack itself
      if (ignored(childRel, child.isDirectory())) continue;
      const parts = entryComponents(childRel);
      if (!Array.isArray(parts)) throw packError(childRel, parts.unsafe);
      if (child.isDirectory()) {
        entries.push({ kind: "directory", rel: childRel });
        await visit(childAbs, childRel);
      } else if (child.isFile()) {
        entries.push({ kind: "file", rel: childRel, abs: childAbs });
      } else if (child.isSymbolicLink()) {
        const target = await readlink(childAbs);
        const escape = lexicalTargetEscape(childRel, target);
        if (escape !== null) throw packError(childRel, `${escape}; add it to ${IGNORE_FILE}`);
        links.set(childRel, target);
        entries.push({ kind: "symlink", rel: childRel, target });
      } else {
        throw packError(
          childRel,
          `unsupported file type (not a file, folder or symlink); add it to ${IGNORE_FILE}`,
        );
      }
    }
  }

  await visit(root, "");
  for (const rel of links.keys()) {
    const escape = symlinkEscape(rel, links);
    if (escape !== null) throw packError(rel, `${escape}; add it to ${IGNORE_FILE}`);
  }
  return entries;
}

function packError(rel: string, reason: string): StrataError {
  return new StrataError("bad_request", `[artifact] pack: ${rel}: ${reason}`);
}

/**
 * The tar stream, in CHUNK_SIZE pieces, ending with the release's manifest
 * (src/cas/manifest.ts) as its last member: every entry with its sha256,
 * hashed as the file is read. Files are read with synchronous calls
 * straight into the chunk: on a folder of many small files the per-call cost
 * of the promise API dominated (measured 3-4x slower for 10,000 files), and no
 * call blocks for longer than one chunk's read.
 */
async function* tarStream(entries: PackEntry[], onFile: () => void): AsyncGenerator<Buffer> {
  const chunks = new ChunkWriter();
  const manifest: ManifestEntry[] = [];
  for (const entry of entries) {
    if (entry.kind === "directory") {
      manifest.push({ kind: "directory", path: entry.rel });
      yield* chunks.write(
        encodeHeader({ path: entry.rel, type: "directory", mode: 0o755, size: 0 }),
      );
    } else if (entry.kind === "symlink") {
      manifest.push({ kind: "symlink", path: entry.rel, target: entry.target });
      yield* chunks.write(
        encodeHeader({
          path: entry.rel,
          type: "symlink",
          mode: 0o777,
          size: 0,
          linkpath: entry.target,
        }),
      );
    } else {
      yield* packFile(entry.abs, entry.rel, chunks, manifest);
      onFile();
    }
  }
  const listing = encodeManifest(manifest);
  yield* chunks.write(
    encodeHeader({ path: MANIFEST_FILE, type: "file", mode: 0o644, size: listing.length }),
  );
  yield* chunks.write(listing);
  yield* chunks.write(Buffer.alloc(paddingFor(listing.length)));
  yield* chunks.write(Buffer.alloc(2 * BLOCK_SIZE));
  yield* chunks.write(Buffer.alloc(paddingFor(chunks.written, RECORD_SIZE)));
  yield* chunks.flush();
}

function* packFile(
  abs: string,
  rel: string,
  chunks: ChunkWriter,
  manifest: ManifestEntry[],
): Generator<Buffer> {
  // O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw packError(rel, "changed while packing (no longer a regular file)");
    const mode = stats.mode & 0o111 ? 0o755 : 0o644;
    yield* chunks.write(encodeHeader({ path: rel, type: "file", mode, size: stats.size }));
    const hash = createHash("sha256");
    yield* chunks.readFrom(fd, stats.size, rel, hash);
    yield* chunks.write(Buffer.alloc(paddingFor(stats.size)));
    const sha256 = hash.digest("hex");
    manifest.push({ kind: "file", path: rel, mode, size: stats.size, sha256 });
  } finally {
    closeSync(fd);
  }
}

/** Cuts the tar stream into CHUNK_SIZE buffers, reading large files straight into them. */
class ChunkWriter {
  #chunk = Buffer.allocUnsafe(CHUNK_SIZE);
  #used = 0;
  written = 0;

  *write(data: Uint8Array): Generator<Buffer> {
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(data.length - offset, CHUNK_SIZE - this.#used);
      this.#chunk.set(data.subarray(offset, offset + n), this.#used);
      this.#used += n;
      this.written += n;
      offset += n;
      if (this.#used === CHUNK_SIZE) yield this.#take();
    }
  }

  *readFrom(fd: number, length: number, rel: string, hash: Hash): Generator<Buffer> {
    let remaining = length;
    while (remaining > 0) {
      const n = readSync(
        fd,
        this.#chunk,
        this.#used,
        Math.min(remaining, CHUNK_SIZE - this.#used),
        null,
      );
      if (n === 0) throw packError(rel, "changed while packing (file shrank)");
      hash.update(this.#chunk.subarray(this.#used, this.#used + n));
      this.#used += n;
      this.written += n;
      remaining -= n;
      if (this.#used === CHUNK_SIZE) yield this.#take();
    }
  }

  *flush(): Generator<Buffer> {
    const used = this.#used;
    if (used > 0) yield this.#take().subarray(0, used);
  }

  #take(): Buffer {
    const full = this.#chunk;
    this.#chunk = Buffer.allocUnsafe(CHUNK_SIZE);
    this.#used = 0;
    return full;
  }
}
