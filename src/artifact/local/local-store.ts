import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, mkdir, open, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StrataError } from "../../lib/errors.js";
import { createDigest, isReleaseId } from "../digest.js";
import type { ArtifactPart, ArtifactStore } from "../store.js";

export interface LocalArtifactStoreOptions {
  /** Folder holding the tarballs (created on first put). */
  dir: string;
}

/** Where `id` lives: `<dir>/sha256/<hex>.tar.gz`. Exported so tests can corrupt a stored file on purpose. */
export function localArtifactPath(dir: string, id: string): string {
  return join(dir, "sha256", `${hexOf(id)}.tar.gz`);
}

/**
 * Tarballs in a local folder. A put streams to a temp file in the same folder,
 * verifies, fsyncs, then links it into place: a reader never sees a partial
 * tarball, and a tarball already stored is never replaced.
 */
export function createLocalArtifactStore(options: LocalArtifactStoreOptions): ArtifactStore {
  const { dir } = options;

  return {
    async put(id, source) {
      const path = localArtifactPath(dir, id);
      const existing = await sizeOf(path);
      if (existing !== null) {
        await verify(id, source, null);
        return { size: existing };
      }
      await mkdir(join(dir, "sha256"), { recursive: true });
      const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        const size = await verify(id, source, temp);
        await placeOnce(temp, path);
        return { size };
      } finally {
        await rm(temp, { force: true });
      }
    },

    async open(id) {
      let handle;
      try {
        handle = await open(localArtifactPath(dir, id), "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw err;
      }
      try {
        const { size } = await handle.stat();
        return { stream: handle.createReadStream({ highWaterMark: 1024 * 1024 }), size };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },

    async has(id) {
      return (await sizeOf(localArtifactPath(dir, id))) !== null;
    },

    async putPart(id, part, bytes) {
      const path = partPath(dir, id, part);
      await mkdir(join(dir, "sha256"), { recursive: true });
      const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
      try {
        await writeFile(temp, bytes, { flag: "wx", mode: 0o644, flush: true });
        await rename(temp, path);
      } finally {
        await rm(temp, { force: true });
      }
    },

    async openPart(id, part, range) {
      let handle;
      try {
        handle = await open(partPath(dir, id, part), "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw err;
      }
      try {
        const { size } = await handle.stat();
        if (!range) return { stream: handle.createReadStream({ highWaterMark: 1 << 20 }), size };
        const end = Math.min(range.end, size - 1);
        const stream = handle.createReadStream({ start: range.start, end, highWaterMark: 1 << 20 });
        return { stream, size: Math.max(0, end - range.start + 1) };
      } catch (err) {
        await handle.close();
        throw err;
      }
    },

    async delete(id) {
      await rm(localArtifactPath(dir, id), { force: true });
      for (const part of PARTS) await rm(partPath(dir, id, part), { force: true });
    },
  };
}

const PARTS: ArtifactPart[] = ["manifest", "index", "blobs"];

function partPath(dir: string, id: string, part: ArtifactPart): string {
  return join(dir, "sha256", `${hexOf(id)}.${part}`);
}

function hexOf(id: string): string {
  if (!isReleaseId(id)) {
    throw new StrataError(
      "bad_request",
      `[artifact] store: "${id}" is not a release id (sha256:<64 hex>)`,
    );
  }
  return id.slice("sha256:".length);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Reads `source` to its end, writing it to `temp` unless null; rejects unless its sha256 is `id`. */
async function verify(
  id: string,
  source: NodeJS.ReadableStream | Readable,
  temp: string | null,
): Promise<number> {
  const digest = createDigest();
  let size = 0;
  async function* hashed(chunks: AsyncIterable<Buffer | string>) {
    for await (const chunk of chunks) {
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      digest.update(bytes);
      size += bytes.length;
      yield bytes;
    }
  }
  if (temp === null) {
    for await (const _ of hashed(source)) {
      // only hashing
    }
  } else {
    await pipeline(
      source,
      hashed,
      createWriteStream(temp, { flags: "wx", mode: 0o644, flush: true }),
    );
  }
  const got = digest.id();
  if (got !== id) {
    throw new StrataError(
      "checksum_mismatch",
      `[artifact] store: checksum mismatch for ${id} (got ${got})`,
    );
  }
  return size;
}

/** Moves `temp` to `path` unless `path` exists; a link() never replaces, unlike rename(). */
async function placeOnce(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    // Some filesystems have no hard links; rename is atomic too and the content is identical.
    if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") return rename(temp, path);
    throw err;
  }
  await unlink(temp);
}
