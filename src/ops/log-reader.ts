import { watch, type FSWatcher } from "node:fs";
import { open, stat } from "node:fs/promises";

/**
 * Reading a server's rotated logs for `strata logs`: the last lines across
 * `<file>.N` .. `<file>`, and following the live file through rotations.
 * Lines are told apart by "\n"; a line's time is its own leading timestamp
 * (ISO 8601, strata's `[strata] <time>` notes, a JSON line's `time`), else
 * that of the nearest timestamped line before it.
 */

export interface LastLinesOptions {
  lines: number;
  /** Epoch ms: lines timed before it are left out; untimed lines before any timed one are kept. */
  since?: number;
  /** Most bytes read from the end, across files. @default 8 MiB */
  maxBytes?: number;
}

const ISO = /^(?:\[strata\] )?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))/;
const JSON_TIME = /^\{.*?"(?:time|ts|timestamp)"\s*:\s*"([^"]+)"/;

/** The time a line carries at its start, or null. */
export function lineTime(line: string): number | null {
  const match = ISO.exec(line) ?? JSON_TIME.exec(line);
  if (!match) return null;
  const time = Date.parse(match[1]!);
  return Number.isNaN(time) ? null : time;
}

/** The last `lines` lines of the files (oldest first), each with "\n"; "" when none. */
export async function readLastLines(files: string[], options: LastLinesOptions): Promise<string> {
  let budget = options.maxBytes ?? 8 * 1024 * 1024;
  let lines: string[] = [];
  for (const file of [...files].reverse()) {
    if (lines.length >= options.lines || budget <= 0) break;
    const { text, whole } = await readEnd(file, options.lines - lines.length, budget);
    budget -= Buffer.byteLength(text);
    const found = text.split("\n");
    if (found.at(-1) === "") found.pop();
    if (!whole) found.shift(); // the first line was cut
    lines = [...found, ...lines];
    if (!whole) break;
  }
  lines = lines.slice(-options.lines);
  if (options.since !== undefined) {
    let last: number | null = null;
    lines = lines.filter((line) => {
      last = lineTime(line) ?? last;
      return last === null || last >= options.since!;
    });
  }
  return lines.map((line) => `${line}\n`).join("");
}

/** Reads a file's end, growing the window until it holds `lines` lines or the whole file. */
async function readEnd(
  file: string,
  lines: number,
  budget: number,
): Promise<{ text: string; whole: boolean }> {
  const handle = await open(file, "r").catch(() => null);
  if (!handle) return { text: "", whole: true };
  try {
    const { size } = await handle.stat();
    for (let window = 64 * 1024; ; window *= 4) {
      const length = Math.min(size, window, budget);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const whole = length === size;
      let count = 0;
      for (const byte of buffer) if (byte === 10) count++;
      if (whole || count > lines || length === budget) {
        return { text: buffer.toString("utf8"), whole };
      }
    }
  } finally {
    await handle.close();
  }
}

/** The size of a file, 0 when it is missing. */
export async function sizeOf(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

export interface FollowOptions {
  /** The live file; `<file>.1` is where a rotation copies it. */
  file: string;
  /** Byte offset already read. */
  from: number;
  /** Whole lines, in order; awaited before the next read (backpressure). */
  onLines(text: string): Promise<void>;
  /** Called between reads when nothing is new (keepalives). */
  onIdle(): Promise<void>;
  signal: AbortSignal;
  /** @default 250 */
  pollMs?: number;
  /** Most bytes handed to `onLines` at once. @default 192 KiB */
  maxChunk?: number;
}

/**
 * Follows a log file until `signal` aborts: hands on what is appended, in
 * whole lines, woken by the file's change events and polling every `pollMs`. A file that shrank was rotated (copied to `.1`, truncated):
 * the rest of `.1` past the offset comes first, then the new file from 0.
 */
export async function followFile(options: FollowOptions): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  const maxChunk = options.maxChunk ?? 192 * 1024;
  let offset = options.from;
  let wake = () => {};
  const watcher = watchQuietly(options.file, () => wake());
  const wholeLines = (bytes: Buffer) => {
    const text = bytes.toString("utf8");
    return text.endsWith("\n") ? text : `${text}\n`;
  };
  while (!options.signal.aborted) {
    const size = await sizeOf(options.file);
    if (size < offset) {
      const rotated = `${options.file}.1`;
      const rest = await readRange(rotated, offset, Math.max(0, (await sizeOf(rotated)) - offset));
      if (rest.length > 0) await options.onLines(wholeLines(rest));
      offset = 0;
      continue;
    }
    const bytes =
      size > offset
        ? await readRange(options.file, offset, Math.min(size - offset, maxChunk))
        : null;
    // Only whole lines go; a line longer than a chunk goes in pieces.
    const cut = bytes ? bytes.lastIndexOf(10) + 1 || (bytes.length === maxChunk ? maxChunk : 0) : 0;
    if (bytes && cut > 0) {
      await options.onLines(wholeLines(bytes.subarray(0, cut)));
      offset += cut;
      continue;
    }
    await options.onIdle();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      options.signal.addEventListener("abort", done, { once: true });
      wake = done;
      function done() {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", done);
        wake = () => {};
        resolve();
      }
    });
  }
  watcher?.close();
}

/** inotify where it works (a write wakes the follow at once); the poll covers the rest. */
function watchQuietly(file: string, onChange: () => void): FSWatcher | null {
  try {
    const watcher = watch(file, { persistent: false }, onChange);
    watcher.on("error", () => watcher.close());
    return watcher;
  } catch {
    return null; // not there yet, or no inotify: polling alone
  }
}

async function readRange(file: string, position: number, length: number): Promise<Buffer> {
  const handle = await open(file, "r").catch(() => null);
  if (!handle) return Buffer.alloc(0);
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
