import { open, type FileHandle } from "node:fs/promises";
import { constants as zlibConstants, createGunzip } from "node:zlib";

/** What went wrong while decoding a file; decoding stops there and what came before is kept. */
export interface DecodeError {
  kind: "gzip_truncated" | "gzip_corrupt";
  message: string;
}

export interface ReadLogFileOptions {
  /** Bytes per read. @default 1 MiB */
  chunkSize?: number;
  /** Called with every decoded chunk, in order; the chunk may be reused after the call returns. */
  onData: (chunk: Buffer) => void;
}

export interface ReadLogFileResult {
  gzip: boolean;
  /** Bytes read from disk. */
  fileBytes: number;
  /** Bytes handed to `onData`. */
  decodedBytes: number;
  errors: DecodeError[];
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True when `head` starts with the gzip magic bytes (RFC 1952): gzip is recognised by content, not by name. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
}
// After a decode error the failing input region is replayed in ever smaller slices (each /64,
// down to this size), so at most this much compressed input before the damage is lost.
const SMALLEST_SLICE = 16;
/**
 * Reads a log file and hands its decoded bytes to `onData`: plain text as is,
 * gzip (recognised by its magic bytes, whatever the name) decompressed,
 * multi-member included. A truncated or damaged gzip is not an exception: the
 * bytes that decoded before the damage are delivered and the damage is
 * returned in `errors`. Throws only when the file cannot be opened or read.
 */
export async function readLogFile(
  path: string,
  options: ReadLogFileOptions,
): Promise<ReadLogFileResult> {
  const chunkSize = options.chunkSize ?? 1024 * 1024;
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await file.read(head, 0, 2, 0);
    const gzip = isGzip(head.subarray(0, bytesRead));
    if (!gzip) {
      const buf = Buffer.allocUnsafe(chunkSize);
      let fileBytes = 0;
      for (;;) {
        const { bytesRead: n } = await file.read(buf, 0, buf.length, fileBytes);
        if (n === 0) break;
        fileBytes += n;
        options.onData(buf.subarray(0, n));
      }
      return { gzip, fileBytes, decodedBytes: fileBytes, errors: [] };
    }
    return await readGzip(file, chunkSize, options.onData);
  } finally {
    await file.close();
  }
}

async function readGzip(
  file: FileHandle,
  chunkSize: number,
  onData: (chunk: Buffer) => void,
): Promise<ReadLogFileResult> {
  let fileBytes = 0;
  const whole = { start: 0, end: Number.POSITIVE_INFINITY, slice: chunkSize };
  const first = await gunzipPass(file, chunkSize, whole, 0, onData, (n) => (fileBytes = n));
  let delivered = first.decoded;
  if (!first.error) return { gzip: true, fileBytes, decodedBytes: delivered, errors: [] };
  if (first.atEnd) {
    const message = `[traffic] gzip: truncated after ${fileBytes} bytes (${first.error.message}); kept ${delivered} decoded bytes`;
    return {
      gzip: true,
      fileBytes,
      decodedBytes: delivered,
      errors: [{ kind: "gzip_truncated", message }],
    };
  }
  // zlib drops the output of the write that fails. Decode again, feeding the failing region in
  // smaller slices, until the loss is at most SMALLEST_SLICE input bytes; deliver only new output.
  let failed = first.failed;
  while (failed.end - failed.start > SMALLEST_SLICE) {
    const slice = Math.max(SMALLEST_SLICE, Math.ceil((failed.end - failed.start) / 64));
    const pass = await gunzipPass(
      file,
      chunkSize,
      { ...failed, slice },
      delivered,
      (chunk) => {
        delivered += chunk.length;
        onData(chunk);
      },
      () => {},
    );
    if (!pass.error || pass.failed.start < failed.start || pass.failed.end > failed.end) break;
    failed = pass.failed;
  }
  const message = `[traffic] gzip: damaged data near byte ${failed.start} (${first.error.message}); kept ${delivered} decoded bytes`;
  return {
    gzip: true,
    fileBytes,
    decodedBytes: delivered,
    errors: [{ kind: "gzip_corrupt", message }],
  };
}

interface InputRegion {
  start: number;
  end: number;
  /** Bytes per write inside the region. */
  slice: number;
}

interface GunzipPass {
  decoded: number;
  error: Error | null;
  /** The error came at the end of the input: the stream stopped short (truncation). */
  atEnd: boolean;
  /** The input written by the write that failed. */
  failed: { start: number; end: number };
}

/**
 * One decode pass over the file. Input inside `region` is written in
 * `region.slice` pieces, each followed by a sync flush so that its output is
 * out before a later piece can fail. The first `skip` decoded bytes are not delivered.
 */
async function gunzipPass(
  file: FileHandle,
  chunkSize: number,
  region: InputRegion,
  skip: number,
  onData: (chunk: Buffer) => void,
  onRead: (fileBytes: number) => void,
): Promise<GunzipPass> {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  let decoded = 0;
  let error: Error | null = null;
  let settle: () => void = () => {};
  const failedPromise = new Promise<void>((resolve) => (settle = resolve));
  gunzip.on("data", (chunk: Buffer) => {
    const start = decoded;
    decoded += chunk.length;
    if (decoded > skip) onData(start >= skip ? chunk : chunk.subarray(skip - start));
  });
  gunzip.on("error", (err) => {
    error ??= err;
    settle();
  });
  const ended = new Promise<void>((resolve) => gunzip.on("end", resolve));
  const flushed = () =>
    Promise.race([
      new Promise<void>((resolve) => gunzip.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve())),
      failedPromise,
    ]);

  let position = 0;
  const failed = { start: 0, end: 0 };
  const buf = Buffer.allocUnsafe(chunkSize);
  while (!error) {
    const { bytesRead } = await file.read(buf, 0, buf.length, position);
    if (bytesRead === 0) break;
    const chunkStart = position;
    position += bytesRead;
    onRead(position);
    // zlib holds written buffers until it has consumed them, so each write gets its own copy.
    const input = Buffer.from(buf.subarray(0, bytesRead));
    let off = 0;
    while (off < bytesRead && !error) {
      const at = chunkStart + off;
      let next = bytesRead;
      if (at < region.start) next = Math.min(bytesRead, region.start - chunkStart);
      else if (at < region.end)
        next = Math.min(bytesRead, off + region.slice, region.end - chunkStart);
      failed.start = at;
      failed.end = chunkStart + next;
      gunzip.write(input.subarray(off, next));
      await flushed();
      off = next;
    }
  }
  if (error) {
    gunzip.destroy();
    return { decoded, error, atEnd: false, failed };
  }
  // Flush before end(): on a truncated stream end() fails, and the flush has already delivered all output.
  await flushed();
  gunzip.end();
  await Promise.race([ended, failedPromise]);
  return { decoded, error, atEnd: error !== null, failed };
}
