import type { ArtifactStore } from "../artifact/store.js";
import { StrataError } from "../lib/errors.js";
import type { BlobLocation, ReleaseIndex } from "./release-index.js";

/**
 * The body of a pack answer: one frame per blob, in the order of the `blobs`
 * part. A frame is the blob's sha256 (32 bytes), a flag byte (0: raw
 * deflate, 1: stored raw), its length (uint32 BE) and its bytes.
 */
export const FRAME_HEADER = 37;
/** Gap between two wanted blobs under which one ranged read covers both. */
const COALESCE_GAP = 256 * 1024;
/** Bytes gathered before a write to the response. */
const SEND_BYTES = 256 * 1024;
/** Most bytes one ranged read brings into memory. */
const MAX_READ = 8 * 1024 * 1024;

/** Picks the blobs of a pack request; a sha256 the release does not hold is a 400 naming it. */
export function selectBlobs(
  index: ReleaseIndex,
  request: { want?: string[] | undefined; except?: string[] | undefined },
): Array<[string, BlobLocation]> {
  let picked: Array<[string, BlobLocation]>;
  if (request.want) {
    picked = request.want.map((sha) => {
      const location = index[sha];
      if (!location) {
        throw new StrataError("bad_request", `[server] pack: want: ${sha} is not in this release`);
      }
      return [sha, location];
    });
  } else {
    const except = new Set(request.except ?? []);
    picked = Object.entries(index).filter(([sha]) => !except.has(sha));
  }
  const unique = new Map(picked);
  return [...unique].sort((a, b) => a[1][0] - b[1][0]);
}

/**
 * Frames of `picked`, read from the release's `blobs` part in few ranged
 * reads and sent in pieces of about SEND_BYTES: one write per small frame
 * cost more than the frames (10,000 files took 3.7 s, measured).
 */
export async function* packFrames(
  artifacts: ArtifactStore,
  id: string,
  picked: Array<[string, BlobLocation]>,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for (let i = 0; i < picked.length;) {
    let j = i + 1;
    const start = picked[i]![1][0];
    while (
      j < picked.length &&
      picked[j]![1][0] - end(picked[j - 1]![1]) <= COALESCE_GAP &&
      end(picked[j]![1]) - start <= MAX_READ
    ) {
      j++;
    }
    const last = end(picked[j - 1]![1]);
    const data = last > start ? await readRange(artifacts, id, start, last - 1) : Buffer.alloc(0);
    for (const [sha, [offset, length, raw]] of picked.slice(i, j)) {
      const header = Buffer.alloc(FRAME_HEADER);
      header.write(sha, 0, "hex");
      header[32] = raw;
      header.writeUInt32BE(length, 33);
      pending.push(header, data.subarray(offset - start, offset - start + length));
      pendingBytes += FRAME_HEADER + length;
      if (pendingBytes >= SEND_BYTES) {
        yield Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
      }
    }
    i = j;
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

const end = ([offset, length]: BlobLocation) => offset + length;

async function readRange(artifacts: ArtifactStore, id: string, start: number, last: number) {
  const opened = await artifacts.openPart(id, "blobs", { start, end: last });
  if (!opened) throw new StrataError("not_found", `[server] pack: ${id} has no blobs stored`);
  const chunks: Buffer[] = [];
  for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
  const data = Buffer.concat(chunks);
  if (data.length !== last - start + 1) {
    throw new StrataError("internal", `[server] pack: ${id}: short read of its blobs`);
  }
  return data;
}

/** One blob as it comes off the wire. */
export interface Frame {
  sha256: string;
  raw: boolean;
  data: Buffer;
}

/**
 * Cuts a pack body into frames; a frame longer than `maxLength` is refused
 * (unsafe_archive) before it is buffered, a body ending inside a frame is
 * "unavailable" (a broken transfer).
 */
export async function* readFrames(
  body: AsyncIterable<Uint8Array>,
  maxLength: number,
): AsyncGenerator<Frame> {
  const pieces: Buffer[] = [];
  let buffered = 0;
  const take = (n: number): Buffer => {
    const whole = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, buffered);
    pieces.length = 0;
    if (whole.length > n) pieces.push(whole.subarray(n));
    buffered = whole.length - n;
    return whole.subarray(0, n);
  };
  let need: { sha256: string; raw: boolean; length: number } | null = null;
  for await (const piece of body) {
    pieces.push(Buffer.isBuffer(piece) ? piece : Buffer.from(piece));
    buffered += piece.length;
    for (;;) {
      if (need === null) {
        if (buffered < FRAME_HEADER) break;
        const header = take(FRAME_HEADER);
        const length = header.readUInt32BE(33);
        if (length > maxLength) {
          throw new StrataError("unsafe_archive", `[cas] pack: a frame of ${length} bytes`);
        }
        need = { sha256: header.toString("hex", 0, 32), raw: header[32] === 1, length };
      }
      if (buffered < need.length) break;
      yield { sha256: need.sha256, raw: need.raw, data: take(need.length) };
      need = null;
    }
  }
  if (need !== null || buffered > 0) {
    throw new StrataError("unavailable", "[cas] pack: the body ended inside a frame");
  }
}
