import { createHash } from "node:crypto";
import { open, readdir, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { systemClock, type Clock } from "../lib/clock.js";
import { createLogCounter, type LogCounter, type MalformedSample } from "./log-counter.js";
import type { MinuteCounts } from "./minute-counter.js";
import type { LogFormatOption } from "./parsers/line-parser.js";

export interface FollowOptions {
  /** The live log, e.g. `/var/log/nginx/access.log`; it may not exist yet. Plain text only. */
  path: string;
  /** @default "auto" */
  format?: LogFormatOption;
  /** Aborting stops the follow; `followLog` then resolves. Lines read so far have been delivered. */
  signal: AbortSignal;
  /**
   * Receives the counts of each run of complete lines, in file order per key;
   * awaited before reading on. A throw stops the follow with that error.
   */
  onBatch: (batch: FollowBatch) => Promise<void>;
  /** Where an earlier run stopped in the file with this key (a checkpointed `end`), or null to read from the start. */
  resume?: (key: string) => Promise<number | null>;
  /** @default 1000 */
  pollMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** Bytes per read. @default 1 MiB */
  chunkSize?: number;
  /**
   * A renamed-away file is read until it has had no new bytes for this many
   * polls (the writer may still append until it reopens its log), then its
   * unterminated last line, if any, is counted and it is closed.
   * @default 5
   */
  drainPolls?: number;
  /** A batch is sent at the latest once it holds this many minutes. @default 1440 */
  maxBatchMinutes?: number;
  /** Malformed lines kept as samples per batch. @default 5 */
  maxSamples?: number;
}

/** Counts of the complete lines in bytes [start, end) of one file. */
export interface FollowBatch {
  /**
   * `follow:<sha256 of the file's first line>`: names the file's content, so
   * it survives renames (rotation) and restarts, and changes on truncation.
   */
  key: string;
  /** The path the file was opened by (it may have been renamed since). */
  path: string;
  inode: number;
  start: number;
  /** Checkpoint: a later run resumes reading this file here. */
  end: number;
  minutes: MinuteCounts[];
  lines: number;
  counted: number;
  malformed: number;
  samples: MalformedSample[];
}

// The first line names the file; a longer first line is cut here.
const FINGERPRINT_MAX = 4096;
// Reading a large backlog, the checkpoint moves at least this often.
const BATCH_BYTES = 64 * 1024 * 1024;

interface Tracked {
  handle: FileHandle;
  path: string;
  inode: number;
  dev: number;
  key: string | null;
  fingerprintLength: number;
  /** Next byte to read. */
  readPos: number;
  /** Offset the counter started at; batches end at `base + counter.consumed`. */
  base: number;
  /** Start of the next batch. */
  committed: number;
  counter: LogCounter | null;
  /** Totals of the counter already sent in batches. */
  sent: { lines: number; malformed: number };
  idlePolls: number;
}

/** What one follow holds between polls. */
interface Follow {
  options: FollowOptions;
  buf: Buffer;
  drainPolls: number;
  maxBatchMinutes: number;
  /** Files renamed away or copied by copytruncate, read to their end before they are closed. */
  draining: Tracked[];
  /** The file at `options.path`, null while there is none. */
  current: Tracked | null;
}

/**
 * Tails a live log across rotations without losing or double-counting lines:
 * the open file is tracked by inode and offset. When the path is renamed away
 * (logrotate `create`), the old file is read to its end (and a while longer,
 * see `drainPolls`) before the new one is read from its start; when the file is
 * truncated in place (`copytruncate`), the rotated copy beside it, if found, is
 * read from where the follow was, and the log restarts at 0. A partial last
 * line waits for its newline. Resolves when `signal` aborts.
 */
export async function followLog(options: FollowOptions): Promise<void> {
  const clock = options.clock ?? systemClock;
  const pollMs = options.pollMs ?? 1000;
  const follow: Follow = {
    options,
    buf: Buffer.allocUnsafe(options.chunkSize ?? 1024 * 1024),
    drainPolls: options.drainPolls ?? 5,
    maxBatchMinutes: options.maxBatchMinutes ?? 1440,
    draining: [],
    current: null,
  };
  try {
    while (!options.signal.aborted) {
      await pollDraining(follow);
      await pollCurrent(follow);
      try {
        await clock.sleep(pollMs, options.signal);
      } catch {
        break;
      }
    }
  } finally {
    const files = [...follow.draining, ...(follow.current ? [follow.current] : [])];
    for (const t of files) await t.handle.close();
  }
}

/** Finishes the files being drained; closes each once it has been idle for `drainPolls` polls. */
async function pollDraining(follow: Follow): Promise<void> {
  for (const t of [...follow.draining]) {
    if ((await readAvailable(follow, t)) > 0) {
      t.idlePolls = 0;
      continue;
    }
    if (++t.idlePolls < follow.drainPolls) continue;
    // The writer has moved on: an unterminated last line will never be completed.
    t.counter?.end();
    await emit(follow, t);
    await t.handle.close();
    follow.draining.splice(follow.draining.indexOf(t), 1);
  }
}

/** Notices a rename or a truncation of the followed path, then reads what the current file has. */
async function pollCurrent(follow: Follow): Promise<void> {
  const path = follow.options.path;
  const current = follow.current;
  if (current) {
    let onDisk: { ino: number; dev: number } | null = null;
    try {
      onDisk = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (!onDisk || onDisk.ino !== current.inode || onDisk.dev !== current.dev) {
      // Renamed away (or deleted): finish the old file before the new one.
      await readAvailable(follow, current);
      follow.draining.push(current);
      follow.current = null;
    } else if (await truncatedInPlace(current)) {
      // copytruncate: the lines written since the last poll are only in the copy; finish from there.
      const copy = await findCopy(path, current);
      if (copy) follow.draining.push(copy);
      restart(current);
    }
  }
  follow.current ??= await openTracked(path);
  if (follow.current) await readAvailable(follow, follow.current);
}

async function openTracked(path: string): Promise<Tracked | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const st = await handle.stat();
  return {
    handle,
    path,
    inode: st.ino,
    dev: st.dev,
    key: null,
    fingerprintLength: 0,
    readPos: 0,
    base: 0,
    committed: 0,
    counter: null,
    sent: { lines: 0, malformed: 0 },
    idlePolls: 0,
  };
}

/** Hash of the first line (or first FINGERPRINT_MAX bytes); null while the first line is incomplete. */
async function fingerprint(t: Tracked): Promise<{ hash: string; length: number } | null> {
  const head = Buffer.alloc(FINGERPRINT_MAX);
  const { bytesRead } = await t.handle.read(head, 0, FINGERPRINT_MAX, 0);
  const nl = head.subarray(0, bytesRead).indexOf(0x0a);
  const length = nl >= 0 ? nl + 1 : bytesRead === FINGERPRINT_MAX ? FINGERPRINT_MAX : 0;
  if (length === 0) return null;
  return { hash: createHash("sha256").update(head.subarray(0, length)).digest("hex"), length };
}

/** Names the file once its first line is there, and positions it at the checkpoint of that name. */
async function identify(options: FollowOptions, t: Tracked): Promise<boolean> {
  if (t.key) return true;
  const fp = await fingerprint(t);
  if (!fp) return false;
  t.key = `follow:${fp.hash}`;
  t.fingerprintLength = fp.length;
  const size = (await t.handle.stat()).size;
  const resumeAt = Math.min((await options.resume?.(t.key)) ?? 0, size);
  t.readPos = t.base = t.committed = resumeAt;
  t.counter = createLogCounter({
    ...(options.format ? { format: options.format } : {}),
    ...(options.maxSamples !== undefined ? { maxSamples: options.maxSamples } : {}),
  });
  t.sent = { lines: 0, malformed: 0 };
  return true;
}

function restart(t: Tracked): void {
  t.key = null;
  t.counter = null;
  t.readPos = t.base = t.committed = 0;
  t.sent = { lines: 0, malformed: 0 };
}

/** Sends the complete lines counted since the last batch, if any, and moves the checkpoint. */
async function emit(follow: Follow, t: Tracked): Promise<void> {
  const counter = t.counter;
  if (!t.key || !counter) return;
  const end = t.base + counter.consumed;
  if (end <= t.committed) return;
  const stats = counter.stats;
  const lines = stats.lines - t.sent.lines;
  const malformed = stats.malformed - t.sent.malformed;
  const batch: FollowBatch = {
    key: t.key,
    path: t.path,
    inode: t.inode,
    start: t.committed,
    end,
    minutes: counter.counts.take(),
    lines,
    counted: lines - malformed,
    malformed,
    samples: counter.takeSamples(),
  };
  t.sent = { lines: stats.lines, malformed: stats.malformed };
  t.committed = end;
  await follow.options.onBatch(batch);
}

/** Reads what is there now; returns the number of bytes read. */
async function readAvailable(follow: Follow, t: Tracked): Promise<number> {
  if (!(await identify(follow.options, t))) return 0;
  const counter = t.counter!;
  const buf = follow.buf;
  let total = 0;
  for (;;) {
    const { bytesRead } = await t.handle.read(buf, 0, buf.length, t.readPos);
    if (bytesRead === 0) break;
    t.readPos += bytesRead;
    total += bytesRead;
    counter.write(buf.subarray(0, bytesRead));
    if (counter.counts.size >= follow.maxBatchMinutes || t.readPos - t.committed >= BATCH_BYTES)
      await emit(follow, t);
  }
  await emit(follow, t);
  return total;
}

async function truncatedInPlace(t: Tracked): Promise<boolean> {
  const size = (await t.handle.stat()).size;
  if (size < t.readPos) return true;
  if (!t.key) return false;
  const fp = await fingerprint(t);
  return fp === null || fp.length !== t.fingerprintLength || `follow:${fp.hash}` !== t.key;
}

/**
 * The copy logrotate made before truncating (`access.log.1`, `access.log-20240301`):
 * a plain file beside the log whose first line is the tracked one and that reaches the
 * read position. Returned as the tracked file continued, partial line included.
 */
async function findCopy(logPath: string, t: Tracked): Promise<Tracked | null> {
  if (!t.key) return null;
  const dir = dirname(logPath);
  const base = basename(logPath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const name of names.sort()) {
    if (!(name.startsWith(`${base}.`) || name.startsWith(`${base}-`))) continue;
    let handle: FileHandle | null = null;
    try {
      handle = await open(join(dir, name), "r");
      const st = await handle.stat();
      if (st.isFile() && st.size >= t.readPos) {
        const candidate: Tracked = {
          ...t,
          handle,
          path: join(dir, name),
          inode: st.ino,
          dev: st.dev,
          idlePolls: 0,
        };
        const fp = await fingerprint(candidate);
        if (fp && `follow:${fp.hash}` === t.key) return candidate;
      }
    } catch {
      // Unreadable or vanished: not the copy.
    }
    await handle?.close();
  }
  return null;
}
