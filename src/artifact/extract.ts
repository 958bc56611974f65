import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  linkSync,
  mkdirSync,
  openSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { chmod, mkdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { messageOf, StrataError } from "../lib/errors.js";
import { entryComponents, lexicalTargetEscape, symlinkEscape } from "./entry-path.js";
import {
  BLOCK_SIZE,
  decodeHeader,
  decodeUtf8,
  isZeroBlock,
  paddingFor,
  parsePax,
  TarFormatError,
} from "./tar-format.js";
import { exists } from "../lib/exists.js";

export interface ExtractOptions {
  /** Largest total of regular-file bytes accepted. @default 2 GiB */
  maxBytes?: number;
  /** Most entries accepted. @default 200_000 */
  maxEntries?: number;
}

export interface ExtractResult {
  /** Regular files written (hard links not counted). */
  files: number;
  /** Their total size. */
  bytes: number;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;
const DEFAULT_MAX_ENTRIES = 200_000;
/** Largest pax or GNU long-name body read; real ones hold a path (Linux PATH_MAX is 4096). */
const MAX_EXTENSION_SIZE = 1024 * 1024;
/** Extension headers allowed before one entry (a pax header and a GNU long name and link at most). */
const MAX_EXTENSIONS_PER_ENTRY = 4;
/** Bytes tolerated after the end-of-archive block: the rest of a tar record, with room for large blocking factors. */
const MAX_TRAILING_BYTES = 1024 * 1024;
/** The app definition every release carries at its top level. */
const DEFINITION_FILE = "strata.yaml";
/** Largest strata.yaml read by verifyArchive; real ones are a few hundred bytes. */
const MAX_DEFINITION_SIZE = 1024 * 1024;
/** O_EXCL|O_NOFOLLOW: never reuse or follow what is already there. */
const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Extracts the tar.gz at `archive` into `dest` (must not exist yet; created). On any rejection it throws
 * StrataError("unsafe_archive" | "too_large", "[artifact] extract: <entry path>: <reason>") and nothing remains at dest.
 *
 * Entries go to a hidden sibling folder that is renamed to `dest` only once
 * the whole archive, gzip trailer included, has been read and accepted: a
 * crash leaves no half-extracted `dest`. Nothing is written outside that
 * folder: entry paths may not be absolute or hold `..`, nothing is written
 * through a symlink (O_NOFOLLOW, and an entry below a symlink is refused),
 * every symlink must resolve inside the tree (through other symlinks too),
 * and hard links may only name a file extracted before them. Devices, FIFOs
 * and other special entries are refused. Files get 0755 when any exec bit is
 * set in the archive, else 0644; folders 0755; mtimes are not restored.
 * Other errors: "conflict" when `dest` exists, "not_found" when `archive`
 * does not, "internal" for I/O failures.
 */
export async function extractArchive(
  archive: string,
  dest: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const open = () => createReadStream(archive, { highWaterMark: 1024 * 1024 });
  return extractInto(open, archive, dest, options, undefined, async (err) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !(await exists(archive))) {
      return new StrataError("not_found", `[artifact] extract: ${archive}: no such archive`, {
        cause: err,
      });
    }
    return null;
  });
}

/**
 * extractArchive from a stream (a download, read once): every rule the same,
 * `label` naming the archive in errors. `accept` runs once the whole archive
 * has been read and accepted, before `dest` appears: what it throws (say, the
 * download's checksum did not match) rejects it, leaving nothing at `dest`.
 */
export async function extractStream(
  source: Readable,
  label: string,
  dest: string,
  options: ExtractOptions = {},
  accept?: () => void,
): Promise<ExtractResult> {
  return extractInto(
    () => source,
    label,
    dest,
    options,
    accept,
    async () => null,
  );
}

async function extractInto(
  open: () => NodeJS.ReadableStream & { destroy(): void },
  archive: string,
  dest: string,
  options: ExtractOptions,
  accept: (() => void) | undefined,
  explain: (err: unknown) => Promise<StrataError | null>,
): Promise<ExtractResult> {
  const target = resolve(dest);
  if (await exists(target)) {
    throw new StrataError("conflict", `[artifact] extract: ${target}: destination already exists`);
  }
  await mkdir(dirname(target), { recursive: true });
  const staging = join(
    dirname(target),
    `.${basename(target)}.partial-${randomBytes(6).toString("hex")}`,
  );
  await mkdir(staging, { mode: 0o755 });
  try {
    // A umask that strips 0755 would strip file modes too; then every mode is set explicitly.
    const fixModes = ((await stat(staging)).mode & 0o777) !== 0o755;
    if (fixModes) await chmod(staging, 0o755);
    const extractor = new Extractor(open, archive, staging, {
      maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
      maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
      fixModes,
    });
    const result = await extractor.run();
    accept?.();
    try {
      await rename(staging, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
        throw new StrataError(
          "conflict",
          `[artifact] extract: ${target}: destination appeared while extracting`,
          { cause: err },
        );
      }
      throw err;
    }
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    if (err instanceof StrataError) throw err;
    const explained = await explain(err);
    if (explained) throw explained;
    throw new StrataError("internal", `[artifact] extract: ${target}: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/**
 * Sees every accepted entry of a verified archive, in archive order, with
 * each file's data (for the release index, src/cas/release-index.ts).
 * `end` runs after the whole archive is accepted; what it throws rejects it.
 */
export interface ArchiveVisitor {
  directory(path: string): void;
  symlink(path: string, target: string): void;
  /** A hard link to an earlier file. */
  hardLink(path: string, target: string): void;
  /** A regular file of `size` bytes; `data` receives them in order, then `done`. */
  file(path: string, mode: number, size: number): { data(chunk: Buffer): void; done(): void };
  end(): void;
}

export interface VerifyResult extends ExtractResult {
  /** The archive's top-level strata.yaml, null when it has none. */
  definition: string | null;
}

/**
 * Reads a tar.gz from `source` and applies every rule of extractArchive
 * (gzip and tar well-formed, entry paths, links, special files, size and entry
 * limits) without writing anything. Rejects with the same errors, naming
 * `label` instead of a file when no entry is to blame. For uploads.
 */
export async function verifyArchive(
  source: Readable,
  label: string,
  options: ExtractOptions = {},
  visitor?: ArchiveVisitor,
): Promise<VerifyResult> {
  const extractor = new Extractor(() => source, label, null, {
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    fixModes: false,
  });
  extractor.visitor = visitor;
  const result = await extractor.run();
  return { ...result, definition: extractor.definition };
}

interface Limits {
  maxBytes: number;
  maxEntries: number;
  fixModes: boolean;
}

type Kind = "directory" | "file" | "symlink";

/**
 * One pass over one archive into an empty staging folder. Entries are written
 * with synchronous calls, each short: on 10,000 small files the promise API's
 * per-call cost made extraction 2-3x slower (measured); the event loop still
 * turns whenever more gzip output is awaited.
 */
class Extractor {
  readonly #open: () => NodeJS.ReadableStream & { destroy(): void };
  /** Names the archive in errors when no entry is being read. */
  readonly #archive: string;
  /** Where entries are written; null checks them without writing anything (verifyArchive). */
  readonly #root: string | null;
  /** The top-level strata.yaml, kept when checking only. */
  definition: string | null = null;
  visitor: ArchiveVisitor | undefined;
  readonly #limits: Limits;
  /** What each extracted path is; the staging folder is ours alone, so this is the truth about it. */
  readonly #kinds = new Map<string, Kind>();
  readonly #links = new Map<string, string>();
  #files = 0;
  #bytes = 0;
  #entries = 0;
  /** Entry being read, named in errors. */
  #current = "";

  constructor(
    open: () => NodeJS.ReadableStream & { destroy(): void },
    archive: string,
    root: string | null,
    limits: Limits,
  ) {
    this.#open = open;
    this.#archive = archive;
    this.#root = root;
    this.#limits = limits;
  }

  async run(): Promise<ExtractResult> {
    const input = this.#open();
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    input.on("error", (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    const reader = new ByteReader(gunzip[Symbol.asyncIterator]());
    try {
      await this.#readEntries(reader);
      await this.#readTrailer(reader);
      for (const path of this.#links.keys()) {
        const escape = symlinkEscape(path, this.#links);
        if (escape !== null) throw this.#reject("unsafe_archive", escape, path);
      }
      this.visitor?.end();
      return { files: this.#files, bytes: this.#bytes };
    } catch (err) {
      throw this.#classify(err);
    } finally {
      input.destroy();
      gunzip.destroy();
    }
  }

  async #readEntries(reader: ByteReader): Promise<void> {
    let pax = new Map<string, string>();
    let longPath: string | undefined;
    let longLink: string | undefined;
    let extensions = 0;
    for (;;) {
      const block = await reader.read(BLOCK_SIZE);
      if (block === null) throw new TarFormatError("truncated archive: no end-of-archive block");
      if (isZeroBlock(block)) return;
      const header = decodeHeader(block);
      this.#current = header.path;

      if ("xgLK".includes(header.typeflag)) {
        if (++extensions > MAX_EXTENSIONS_PER_ENTRY)
          throw new TarFormatError("too many extension headers in a row");
        if (header.size > MAX_EXTENSION_SIZE)
          throw new TarFormatError(`extension header of ${header.size} bytes`);
        const body = await reader.readExactly(header.size);
        await reader.skip(paddingFor(header.size));
        // Global pax records ('g') are read and ignored: a path there would name no entry.
        if (header.typeflag === "x") pax = new Map([...pax, ...parsePax(body)]);
        if (header.typeflag === "L") longPath = cString(body);
        if (header.typeflag === "K") longLink = cString(body);
        continue;
      }

      const path = pax.get("path") ?? longPath ?? header.path;
      const linkpath = pax.get("linkpath") ?? longLink ?? header.linkpath;
      const paxSize = pax.get("size");
      if (paxSize !== undefined && !/^[0-9]{1,15}$/.test(paxSize))
        throw new TarFormatError("malformed pax size");
      const size = paxSize !== undefined ? Number(paxSize) : header.size;
      pax = new Map();
      longPath = longLink = undefined;
      extensions = 0;
      this.#current = path;

      if (++this.#entries > this.#limits.maxEntries) {
        throw this.#reject("too_large", `more than ${this.#limits.maxEntries} entries`);
      }
      await this.#extractEntry(reader, header.typeflag, path, linkpath, header.mode, size);
    }
  }

  async #extractEntry(
    reader: ByteReader,
    typeflag: string,
    path: string,
    linkpath: string,
    mode: number,
    size: number,
  ): Promise<void> {
    const isDirectory =
      typeflag === "5" || ((typeflag === "0" || typeflag === "7") && path.endsWith("/"));
    const parts = entryComponents(path);
    if (!Array.isArray(parts)) throw this.#reject("unsafe_archive", parts.unsafe);
    if (parts.length === 0) {
      if (isDirectory && size === 0) return; // "./": the root itself
      throw this.#reject("unsafe_archive", "entry names the archive root");
    }
    if (!isDirectory && typeflag !== "0" && typeflag !== "7" && size !== 0) {
      throw this.#reject("unsafe_archive", `${describeType(typeflag)} entry carries data`);
    }
    const rel = parts.join("/");
    this.#ensureParents(parts);
    const existing = this.#kinds.get(rel);
    if (existing !== undefined && !(existing === "directory" && isDirectory)) {
      throw this.#reject("unsafe_archive", `duplicate entry (already extracted as a ${existing})`);
    }
    const abs = join(this.#root ?? "", ...parts);
    const write = this.#root !== null;

    if (isDirectory) {
      if (size !== 0) throw this.#reject("unsafe_archive", "directory entry carries data");
      if (existing) return;
      if (write) this.#mkdir(abs);
      this.visitor?.directory(rel);
      this.#kinds.set(rel, "directory");
      return;
    }
    switch (typeflag) {
      case "0":
      case "7":
        await this.#extractFile(reader, rel, abs, mode, size);
        return;
      case "2": {
        const escape = lexicalTargetEscape(rel, linkpath);
        if (escape !== null) throw this.#reject("unsafe_archive", escape);
        if (write) symlinkSync(linkpath, abs);
        this.visitor?.symlink(rel, linkpath);
        this.#kinds.set(rel, "symlink");
        this.#links.set(rel, linkpath);
        return;
      }
      case "1": {
        const linked = entryComponents(linkpath);
        if (!Array.isArray(linked))
          throw this.#reject("unsafe_archive", `hard link target: ${linked.unsafe}`);
        const source = linked.join("/");
        if (this.#kinds.get(source) !== "file") {
          throw this.#reject(
            "unsafe_archive",
            `hard link to ${linkpath}, which is not a file extracted before it`,
          );
        }
        if (write) linkSync(join(this.#root!, ...linked), abs);
        this.visitor?.hardLink(rel, source);
        this.#kinds.set(rel, "file");
        return;
      }
      default:
        throw this.#reject("unsafe_archive", `${describeType(typeflag)} entries are not allowed`);
    }
  }

  async #extractFile(
    reader: ByteReader,
    rel: string,
    abs: string,
    headerMode: number,
    size: number,
  ) {
    if (this.#bytes + size > this.#limits.maxBytes) {
      throw this.#reject("too_large", `files exceed ${this.#limits.maxBytes} bytes`);
    }
    this.#bytes += size;
    this.#files++;
    this.#kinds.set(rel, "file");
    if (this.#root === null) return this.#checkFile(reader, rel, headerMode, size);
    const mode = headerMode & 0o111 ? 0o755 : 0o644;
    const fd = openSync(abs, CREATE_FLAGS, mode);
    try {
      let remaining = size;
      while (remaining > 0) {
        const chunk = await reader.readSome(remaining);
        for (let written = 0; written < chunk.length;) {
          written += writeSync(fd, chunk, written);
        }
        remaining -= chunk.length;
      }
      if (this.#limits.fixModes) fchmodSync(fd, mode);
    } finally {
      closeSync(fd);
    }
    await reader.skip(paddingFor(size));
  }

  /** Reads a file's data without writing it, keeping a top-level strata.yaml. */
  async #checkFile(reader: ByteReader, rel: string, mode: number, size: number): Promise<void> {
    const sink = this.visitor?.file(rel, mode & 0o111 ? 0o755 : 0o644, size);
    if (rel === DEFINITION_FILE) {
      if (size > MAX_DEFINITION_SIZE) {
        throw this.#reject("too_large", `larger than ${MAX_DEFINITION_SIZE} bytes`);
      }
      const data = await reader.readExactly(size);
      this.definition = decodeUtf8(data);
      sink?.data(data);
    } else if (sink) {
      for (let remaining = size; remaining > 0;) {
        const chunk = await reader.readSome(remaining);
        sink.data(chunk);
        remaining -= chunk.length;
      }
    } else {
      await reader.skip(size);
    }
    sink?.done();
    await reader.skip(paddingFor(size));
  }

  /** Creates missing parent folders; refuses a parent that is a file or a symlink. */
  #ensureParents(parts: string[]): void {
    let rel = "";
    for (let i = 0; i < parts.length - 1; i++) {
      rel = i === 0 ? (parts[0] as string) : `${rel}/${parts[i]}`;
      const kind = this.#kinds.get(rel);
      if (kind === "directory") continue;
      if (kind !== undefined)
        throw this.#reject("unsafe_archive", `parent ${rel} is a ${kind}, not a directory`);
      if (this.#root !== null) this.#mkdir(join(this.#root, ...parts.slice(0, i + 1)));
      this.#kinds.set(rel, "directory");
    }
  }

  #mkdir(abs: string): void {
    mkdirSync(abs, { mode: 0o755 });
    if (this.#limits.fixModes) chmodSync(abs, 0o755);
  }

  /** After the end-of-archive block only zero padding may follow; reading it to the end checks the gzip trailer. */
  async #readTrailer(reader: ByteReader): Promise<void> {
    this.#current = "";
    let trailing = 0;
    for (;;) {
      const chunk = await reader.readAvailable();
      if (chunk === null) return;
      trailing += chunk.length;
      if (trailing > MAX_TRAILING_BYTES)
        throw new TarFormatError("too much data after the end-of-archive block");
      if (!isZeroBlock(chunk)) throw new TarFormatError("data after the end-of-archive block");
    }
  }

  #reject(code: "unsafe_archive" | "too_large", reason: string, path = this.#current): StrataError {
    const what = this.#root === null ? "verify" : "extract";
    return new StrataError(code, `[artifact] ${what}: ${path || this.#archive}: ${reason}`);
  }

  #classify(err: unknown): unknown {
    if (err instanceof StrataError) return err;
    if (err instanceof TarFormatError) return this.#reject("unsafe_archive", err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== "string" || !code.startsWith("Z_")) return err;
    // Node reports a gzip stream cut short as Z_BUF_ERROR "unexpected end of file".
    const reason = /unexpected end of file/i.test(messageOf(err))
      ? "truncated gzip data"
      : `corrupt gzip data (${messageOf(err)})`;
    return new StrataError("unsafe_archive", this.#reject("unsafe_archive", reason).message, {
      cause: err,
    });
  }
}

function cString(body: Buffer): string {
  const end = body.indexOf(0);
  return decodeUtf8(end === -1 ? body : body.subarray(0, end));
}

function describeType(typeflag: string): string {
  const names: Record<string, string> = {
    "1": "hard link",
    "2": "symlink",
    "3": "character device",
    "4": "block device",
    "6": "FIFO",
  };
  return names[typeflag] ?? `type '${typeflag}'`;
}

/** Reads exact byte counts from an async stream of chunks. */
class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  #chunk: Buffer = Buffer.alloc(0);
  #offset = 0;
  #ended = false;

  constructor(source: AsyncIterator<Buffer>) {
    this.#source = source;
  }

  /** Whatever is buffered (at least one byte), or null at the end. */
  async readAvailable(): Promise<Buffer | null> {
    if (this.#offset === this.#chunk.length && !(await this.#fill())) return null;
    const out = this.#chunk.subarray(this.#offset);
    this.#offset = this.#chunk.length;
    return out;
  }

  /** 1 to `max` bytes; the end of the stream here is a truncation. */
  async readSome(max: number): Promise<Buffer> {
    if (this.#offset === this.#chunk.length && !(await this.#fill())) {
      throw new TarFormatError("truncated archive");
    }
    const n = Math.min(max, this.#chunk.length - this.#offset);
    const out = this.#chunk.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** Exactly `n` bytes, or null when the stream ends before the first of them. */
  async read(n: number): Promise<Buffer | null> {
    if (this.#offset === this.#chunk.length && !(await this.#fill())) return null;
    return this.readExactly(n);
  }

  async readExactly(n: number): Promise<Buffer> {
    const available = this.#chunk.length - this.#offset;
    if (available >= n) {
      const out = this.#chunk.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const part = await this.readSome(n - filled);
      out.set(part, filled);
      filled += part.length;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    let remaining = n;
    while (remaining > 0) remaining -= (await this.readSome(remaining)).length;
  }

  async #fill(): Promise<boolean> {
    while (!this.#ended) {
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        break;
      }
      if (next.value.length === 0) continue;
      this.#chunk = next.value;
      this.#offset = 0;
      return true;
    }
    return false;
  }
}
