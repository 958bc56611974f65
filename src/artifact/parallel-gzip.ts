import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { constants, crc32, deflateRaw } from "node:zlib";

/**
 * gzip on several cores, as pigz does: the input is cut into fixed-size
 * blocks, each raw-deflated on the libuv threadpool with the previous 32 KiB
 * as its dictionary and ended with a sync flush (byte-aligned, not final),
 * then the blocks are concatenated in order under one gzip header and
 * trailer (RFC 1951/1952). The output is one ordinary gzip member and depends
 * only on the input and the level, never on the number of cores.
 */

const deflateRawAsync = promisify(deflateRaw);

/** Input bytes per deflate job: large enough that the per-job cost is noise, small enough to spread 50 MB over cores. */
const BLOCK_SIZE = 1024 * 1024;
/** Deflate's window: what a block may refer back to in the previous one. */
const WINDOW_SIZE = 32 * 1024;
/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

export interface ParallelGzipOptions {
  /** zlib level, 0-9. */
  level: number;
  /** Deflate jobs in flight. @default availableParallelism(), at most 4 (libuv's default threadpool) */
  concurrency?: number;
}

export function parallelGzip(
  options: ParallelGzipOptions,
): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  const concurrency = options.concurrency ?? Math.min(4, availableParallelism());
  return async function* (source) {
    yield gzipHeader(options.level);
    let crc = 0;
    let size = 0;
    let dictionary: Buffer | undefined;
    const inFlight: Promise<Buffer>[] = [];
    for await (const block of fixedBlocks(source, BLOCK_SIZE)) {
      crc = crc32(block, crc);
      size += block.length;
      const job = deflateRawAsync(block, {
        level: options.level,
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(dictionary ? { dictionary } : {}),
      });
      job.catch(() => {}); // awaited in order below; this only silences an early rejection
      inFlight.push(job);
      dictionary = block.subarray(block.length - WINDOW_SIZE);
      if (inFlight.length > concurrency) yield await (inFlight.shift() as Promise<Buffer>);
    }
    for (const job of inFlight) yield await job;
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc >>> 0, 0);
    trailer.writeUInt32LE(size % 2 ** 32, 4);
    yield Buffer.concat([FINAL_EMPTY_BLOCK, trailer]);
  };
}

/** Fixed header: no name, no mtime, OS 3 (Unix); XFL as gzip sets it for levels 9 and 1. */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, 0x03]);
}

/** Re-cuts a stream into blocks of exactly `size` bytes (the last one shorter), so block edges depend on the input only. */
async function* fixedBlocks(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let block = Buffer.allocUnsafe(size);
  let used = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, size - used);
      chunk.copy(block, used, offset, offset + n);
      used += n;
      offset += n;
      if (used === size) {
        yield block;
        block = Buffer.allocUnsafe(size);
        used = 0;
      }
    }
  }
  if (used > 0) yield block.subarray(0, used);
}
