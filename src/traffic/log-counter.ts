import { escapeBytes } from "../lib/escape.js";
import { createMinuteCounter, type MinuteCounter } from "./minute-counter.js";
import { createLineParser } from "./parsers/create-line-parser.js";
import { newParsedLine, type LogFormat, type LogFormatOption } from "./parsers/line-parser.js";

/** A line that could not be read, kept as an example for the report. */
export interface MalformedSample {
  /** 1-based line number (counted from where reading started). */
  line: number;
  /** The line's first 200 bytes, control characters and bytes that are not UTF-8 escaped (`\x1b`). */
  text: string;
}

/** What reading a stream of log lines found. Blank lines are ignored, so `lines = counted + malformed`. */
export interface LogStats {
  lines: number;
  counted: number;
  malformed: number;
  /** The first few malformed lines. */
  samples: MalformedSample[];
  /** Counted lines per format; `auto` streams may mix formats. */
  formats: Partial<Record<LogFormat, number>>;
  /** Earliest and latest minute counted (Unix ms, UTC), null before the first counted line. */
  first: number | null;
  last: number | null;
}

export interface LogCounterOptions {
  /** @default "auto" */
  format?: LogFormatOption;
  /** Malformed lines kept as samples. @default 5 */
  maxSamples?: number;
  /** A longer line is counted as malformed without being buffered whole. @default 1 MiB */
  maxLineBytes?: number;
  /** Number given to the first line, for streams read from an offset. @default 1 */
  firstLine?: number;
}

/**
 * Splits decoded bytes into lines, parses them and counts requests per minute.
 * Complete lines are handled as soon as they arrive; a partial last line waits
 * for its newline (or for `end()`). One counter per stream; not concurrent.
 */
export interface LogCounter {
  /** Feeds the next bytes of the stream. The chunk is not kept after the call returns. */
  write(chunk: Buffer): void;
  /** Reads a pending partial line as the last line of the stream. Call once, at its end. */
  end(): void;
  /** Bytes of the stream up to and including the last newline handled (or all bytes after `end()`). */
  readonly consumed: number;
  readonly stats: LogStats;
  /** Per-minute counts so far; `take()` them to batch. */
  readonly counts: MinuteCounter;
  /** Returns the samples kept so far and makes room for new ones (for batches of a long stream). */
  takeSamples(): MalformedSample[];
}

const NEWLINE = 0x0a;
const CR = 0x0d;
const SAMPLE_BYTES = 200;

export function createLogCounter(options: LogCounterOptions = {}): LogCounter {
  const parse = createLineParser(options.format ?? "auto");
  const maxSamples = options.maxSamples ?? 5;
  const maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  const counts = createMinuteCounter();
  const stats: LogStats = {
    lines: 0,
    counted: 0,
    malformed: 0,
    samples: [],
    formats: {},
    first: null,
    last: null,
  };
  const out = newParsedLine();
  let lineNumber = (options.firstLine ?? 1) - 1;
  let total = 0;
  let carry = Buffer.allocUnsafe(16 * 1024);
  let carryLength = 0;
  let pending = 0;
  let overlong = false;
  let first = Infinity;
  let last = -Infinity;
  // A fixed-shape object keeps the per-line increment cheap.
  const formatCounts = { combined: 0, common: 0, ltsv: 0, json: 0 };

  function malformed(sample: () => string): void {
    stats.malformed++;
    if (stats.samples.length < maxSamples) stats.samples.push({ line: lineNumber, text: sample() });
  }

  function line(buf: Buffer, start: number, end: number): void {
    lineNumber++;
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return;
    stats.lines++;
    if (parse(buf, start, end, out)) {
      const minute = out.minute;
      counts.add(minute, out.status);
      formatCounts[out.format]++;
      if (minute < first) first = minute;
      if (minute > last) last = minute;
    } else {
      malformed(() => escapeBytes(buf, start, Math.min(end, start + SAMPLE_BYTES)));
    }
  }

  function keep(buf: Buffer, start: number, end: number): void {
    pending += end - start;
    if (overlong) return;
    const needed = carryLength + end - start;
    if (needed > maxLineBytes) {
      overlong = true;
      carryLength = 0;
      return;
    }
    if (needed > carry.length) {
      const grown = Buffer.allocUnsafe(Math.min(maxLineBytes, Math.max(needed, carry.length * 2)));
      carry.copy(grown, 0, 0, carryLength);
      carry = grown;
    }
    buf.copy(carry, carryLength, start, end);
    carryLength = needed;
  }

  function finishCarried(): void {
    if (overlong) {
      lineNumber++;
      stats.lines++;
      malformed(() => `<line longer than ${maxLineBytes} bytes>`);
    } else line(carry, 0, carryLength);
    overlong = false;
    carryLength = 0;
    pending = 0;
  }

  function syncStats(): void {
    stats.counted = stats.lines - stats.malformed;
    stats.first = first === Infinity ? null : first;
    stats.last = last === -Infinity ? null : last;
    const formats: Partial<Record<LogFormat, number>> = {};
    for (const [name, n] of Object.entries(formatCounts)) if (n > 0) formats[name as LogFormat] = n;
    stats.formats = formats;
  }

  return {
    write(chunk) {
      total += chunk.length;
      let pos = 0;
      if (pending > 0) {
        const nl = chunk.indexOf(NEWLINE);
        if (nl < 0) {
          keep(chunk, 0, chunk.length);
          return;
        }
        keep(chunk, 0, nl);
        finishCarried();
        pos = nl + 1;
      }
      for (let nl = chunk.indexOf(NEWLINE, pos); nl >= 0; nl = chunk.indexOf(NEWLINE, pos)) {
        line(chunk, pos, nl);
        pos = nl + 1;
      }
      if (pos < chunk.length) keep(chunk, pos, chunk.length);
      syncStats();
    },
    end() {
      if (pending > 0) finishCarried();
      syncStats();
    },
    get consumed() {
      return total - pending;
    },
    stats,
    counts,
    takeSamples() {
      return stats.samples.splice(0);
    },
  };
}
