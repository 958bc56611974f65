import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { StrataError } from "../lib/errors.js";

const HOUR_MS = 3_600_000;

/** Options of {@link createCountsCsvReader}. */
export interface CountsCsvOptions {
  /** Header name of the timestamp column. */
  timeColumn: string;
  /** Header name of the count column; an empty cell is a missing step. */
  valueColumn: string;
  /** Header name of a flag column; a truthy cell (`1`, `true`, `yes`) marks the row missing whatever its count. */
  missingColumn?: string;
  /**
   * Zero-run rule: a run of exact zeros is treated as missing data (a hole in the source
   * logs, not silent traffic) when it lasts at least `minHours` and the series' typical
   * traffic over the same hours of day adds up to at least `minExpected` requests, i.e.
   * all-zero would have Poisson probability below e^-minExpected. `false` turns it off.
   * @default { minHours: 6, minExpected: 50 }
   */
  zeroRun?: ZeroRunRule | false;
  /** How many bad lines to keep as samples. @default 5 */
  badSamples?: number;
}

export interface ZeroRunRule {
  /** @default 6 */
  minHours: number;
  /** @default 50 */
  minExpected: number;
}

export const DEFAULT_ZERO_RUN: ZeroRunRule = Object.freeze({ minHours: 6, minExpected: 50 });

/** A line that was counted and skipped. */
export interface BadLine {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  reason: string;
  text: string;
}

/** A run of zeros judged to be missing data. Times are wall-clock as written. */
export interface ZeroGap {
  from: string;
  to: string;
  rows: number;
  /** Requests the series' hour-of-day medians predict over the run. */
  expected: number;
}

/**
 * Hourly totals on a dense grid of wall-clock hours as written in the file: hour `i`
 * starts at `start + i` hours. Wall-clock times are ms since the epoch of the clock
 * reading taken as if it were UTC, so day and hour-of-day arithmetic is plain UTC math.
 */
export interface HourlyCounts {
  /** Wall-clock start of the first hour, hour-aligned. */
  start: number;
  /** Sum of the counts seen in each hour, partial for incomplete hours. */
  totals: number[];
  /** Totals of complete hours, NaN where the hour is missing: what models read. */
  values: number[];
  /** True when every step of the hour is present, unflagged and outside a zero gap. */
  complete: boolean[];
  /** Zone suffix as written for each hour: `""` (naive), `"Z"` or `"+HH:MM"`. */
  zones: string[];
}

/** What a whole file reads to. */
export interface CountsCsvResult extends HourlyCounts {
  /** Detected sampling step (most frequent gap between consecutive rows). */
  stepSeconds: number;
  /** Data rows parsed (missing ones included, bad lines not). */
  rows: number;
  /** Rows flagged missing or with an empty count. */
  missingRows: number;
  /** Sum of every count read. */
  total: number;
  badLines: number;
  badSamples: BadLine[];
  zeroGaps: ZeroGap[];
}

/**
 * A push reader: feed it lines in file order (header first), then call `end()` once.
 * Not safe for concurrent use; one reader per file.
 */
export interface CountsCsvReader {
  /** Consumes one line (without its newline). Throws on a header without the named columns. */
  pushLine(line: string): void;
  /** Finishes and returns the hourly series. Throws when no data row parsed. */
  end(): CountsCsvResult;
}

interface HourAcc {
  sum: number;
  good: number;
  missing: number;
  zone: string;
}

interface ZeroRunAcc {
  firstWall: number;
  lastWall: number;
  firstText: string;
  lastText: string;
  rows: number;
}

/** A parsed timestamp: wall-clock reading (as if UTC) and the instant, when the zone is known. */
export interface ParsedTime {
  wall: number;
  /** The instant in ms; equal to `wall` for naive timestamps. */
  instant: number;
  /** `""` for naive, `"Z"`, or `"+HH:MM"`. */
  zone: string;
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const EPOCH_RE = /^-?\d+(?:\.\d+)?$/;

/**
 * Parses `1995-07-01 00:00:00-04:00`, `1998-04-30 21:30:00` (naive), ISO 8601 with `T`/`Z`
 * or epoch seconds. Returns undefined when the text is none of these.
 */
export function parseTimestamp(text: string): ParsedTime | undefined {
  const s = text.trim();
  const m = ISO_RE.exec(s);
  if (m) {
    const [, y, mo, d, h, mi, sec, frac, zoneText] = m;
    const month = Number(mo);
    const day = Number(d);
    const hour = Number(h ?? 0);
    const minute = Number(mi ?? 0);
    const second = Number(sec ?? 0);
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
      return undefined;
    }
    const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
    const wall = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms);
    if (new Date(wall).getUTCDate() !== day) return undefined;
    if (!zoneText) return { wall, instant: wall, zone: "" };
    if (zoneText === "Z" || zoneText === "z") return { wall, instant: wall, zone: "Z" };
    const sign = zoneText.startsWith("-") ? -1 : 1;
    const digits = zoneText.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || "0");
    if (oh > 23 || om > 59) return undefined;
    const zone = `${sign < 0 ? "-" : "+"}${String(oh).padStart(2, "0")}:${String(om).padStart(2, "0")}`;
    return { wall, instant: wall - sign * (oh * 60 + om) * 60_000, zone };
  }
  if (EPOCH_RE.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    if (!Number.isFinite(ms)) return undefined;
    return { wall: ms, instant: ms, zone: "Z" };
  }
  return undefined;
}

/** Formats a wall-clock time with its zone as written: `1995-07-29T14:00:00-04:00`. */
export function formatWallTime(wall: number, zone: string): string {
  return new Date(wall).toISOString().slice(0, 19) + zone;
}

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const FALSY = new Set(["", "0", "false", "no", "n", "f", "off"]);
const TRUTHY = new Set(["1", "true", "yes", "y", "t", "on"]);

function parseFlag(text: string): boolean | undefined {
  const s = text.trim().toLowerCase();
  if (FALSY.has(s)) return false;
  if (TRUTHY.has(s)) return true;
  const n = Number(s);
  return Number.isFinite(n) ? n !== 0 : undefined;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Creates a streaming reader of "any CSV of timestamps and counts at any step (1 min to 1
 * hour)". Rows are aggregated into hours of the wall clock as written; an hour is complete
 * only when all its steps are present, unflagged and non-empty. Lines that do not parse are
 * counted and skipped. Zero runs are detected in file order, so rows should be time-sorted.
 */
export function createCountsCsvReader(options: CountsCsvOptions): CountsCsvReader {
  const zeroRule = options.zeroRun === false ? undefined : (options.zeroRun ?? DEFAULT_ZERO_RUN);
  const maxSamples = options.badSamples ?? 5;
  const hours = new Map<number, HourAcc>();
  const diffs = new Map<number, number>();
  const runs: ZeroRunAcc[] = [];
  const badSamples: BadLine[] = [];
  let header: { time: number; value: number; missing: number; width: number } | undefined;
  let lineNo = 0;
  let rows = 0;
  let missingRows = 0;
  let badLines = 0;
  let total = 0;
  let prevInstant: number | undefined;
  let run: ZeroRunAcc | undefined;

  const bad = (reason: string, text: string) => {
    badLines++;
    if (badSamples.length < maxSamples)
      badSamples.push({ line: lineNo, reason, text: text.slice(0, 200) });
  };
  const closeRun = () => {
    if (run) runs.push(run);
    run = undefined;
  };

  const readHeader = (line: string) => {
    const names = splitCsvLine(line.replace(/^\uFEFF/, "")).map((n) => n.trim());
    const find = (flag: string, name: string) => {
      const i = names.indexOf(name);
      if (i < 0) {
        throw new StrataError(
          "bad_request",
          `[traffic] counts: ${flag} "${name}" is not a column of the header (line ${lineNo}: ${names.join(", ")})`,
        );
      }
      return i;
    };
    const time = find("time column", options.timeColumn);
    const value = find("value column", options.valueColumn);
    const missing = options.missingColumn ? find("missing column", options.missingColumn) : -1;
    header = { time, value, missing, width: Math.max(time, value, missing) + 1 };
  };

  const pushLine = (raw: string) => {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!header) {
      if (line.trim() !== "") readHeader(line);
      return;
    }
    if (line.trim() === "") return;
    const cells = splitCsvLine(line);
    if (cells.length < header.width) return bad(`expected at least ${header.width} fields`, line);
    const t = parseTimestamp(cells[header.time] as string);
    if (!t) return bad(`unparseable timestamp "${cells[header.time]}"`, line);
    let isMissing = false;
    if (header.missing >= 0) {
      const flag = parseFlag(cells[header.missing] as string);
      if (flag === undefined)
        return bad(`unparseable missing flag "${cells[header.missing]}"`, line);
      isMissing = flag;
    }
    const valueText = (cells[header.value] as string).trim();
    let value = NaN;
    if (valueText === "") isMissing = true;
    else if (!isMissing) {
      value = Number(valueText);
      if (!Number.isFinite(value) || value < 0) return bad(`bad count "${valueText}"`, line);
    }
    rows++;
    if (prevInstant !== undefined && t.instant > prevInstant) {
      const d = Math.round((t.instant - prevInstant) / 1000);
      diffs.set(d, (diffs.get(d) ?? 0) + 1);
    }
    prevInstant = t.instant;
    const key = Math.floor(t.wall / HOUR_MS);
    let acc = hours.get(key);
    if (!acc) {
      acc = { sum: 0, good: 0, missing: 0, zone: t.zone };
      hours.set(key, acc);
    }
    const text = (cells[header.time] as string).trim();
    if (isMissing) {
      missingRows++;
      acc.missing++;
      closeRun();
      return;
    }
    acc.sum += value;
    acc.good++;
    total += value;
    if (value === 0) {
      if (run) {
        run.lastWall = t.wall;
        run.lastText = text;
        run.rows++;
      } else
        run = { firstWall: t.wall, lastWall: t.wall, firstText: text, lastText: text, rows: 1 };
    } else closeRun();
  };

  const end = (): CountsCsvResult => {
    closeRun();
    if (!header)
      throw new StrataError("bad_request", "[traffic] counts: the file is empty (no header line)");
    if (hours.size === 0) {
      const hint = badSamples[0] ? ` (line ${badSamples[0].line}: ${badSamples[0].reason})` : "";
      throw new StrataError("bad_request", `[traffic] counts: no data row parsed${hint}`);
    }
    let stepSeconds = 3600;
    let best = 0;
    for (const [d, n] of diffs) {
      if (n > best || (n === best && d < stepSeconds)) {
        best = n;
        stepSeconds = d;
      }
    }
    if (stepSeconds < 1 || stepSeconds > 3600 || 3600 % stepSeconds !== 0) {
      throw new StrataError(
        "bad_request",
        `[traffic] counts: the step between rows is ${stepSeconds} s; it must divide an hour (1 min to 1 hour)`,
      );
    }
    const stepsPerHour = 3600 / stepSeconds;
    const keys = [...hours.keys()];
    const first = Math.min(...keys);
    const last = Math.max(...keys);
    const n = last - first + 1;
    const totals = new Array<number>(n).fill(0);
    const complete = new Array<boolean>(n).fill(false);
    let zone = hours.get(first)?.zone ?? "";
    const zones = new Array<string>(n);
    for (let i = 0; i < n; i++) {
      const acc = hours.get(first + i);
      if (acc) {
        totals[i] = acc.sum;
        complete[i] = acc.missing === 0 && acc.good >= stepsPerHour;
        zone = acc.zone;
      }
      zones[i] = zone;
    }
    const zeroGaps = zeroRule
      ? findZeroGaps(runs, zeroRule, stepSeconds, first, totals, complete)
      : { gaps: [], hours: [] };
    for (const g of zeroGaps.hours) complete[g] = false;
    const values = totals.map((v, i) => (complete[i] ? v : NaN));
    return {
      start: first * HOUR_MS,
      totals,
      values,
      complete,
      zones,
      stepSeconds,
      rows,
      missingRows,
      total,
      badLines,
      badSamples,
      zeroGaps: zeroGaps.gaps,
    };
  };

  return { pushLine, end };
}

function findZeroGaps(
  runs: ZeroRunAcc[],
  rule: ZeroRunRule,
  stepSeconds: number,
  firstKey: number,
  totals: number[],
  complete: boolean[],
): { gaps: ZeroGap[]; hours: number[] } {
  const stepMs = stepSeconds * 1000;
  const long = runs.filter((r) => r.lastWall + stepMs - r.firstWall >= rule.minHours * HOUR_MS);
  if (long.length === 0) return { gaps: [], hours: [] };
  const inRun = new Set<number>();
  for (const r of long) {
    for (let k = Math.floor(r.firstWall / HOUR_MS); k <= Math.floor(r.lastWall / HOUR_MS); k++) {
      inRun.add(k - firstKey);
    }
  }
  const byHour: number[][] = Array.from({ length: 24 }, () => []);
  totals.forEach((v, i) => {
    if (complete[i] && !inRun.has(i)) byHour[(((firstKey + i) % 24) + 24) % 24]?.push(v);
  });
  const profile = byHour.map(median);
  const gaps: ZeroGap[] = [];
  const hours: number[] = [];
  for (const r of long) {
    const from = r.firstWall;
    const to = r.lastWall + stepMs;
    let expected = 0;
    const covered: number[] = [];
    for (let k = Math.floor(from / HOUR_MS); k * HOUR_MS < to; k++) {
      const overlap = Math.min(to, (k + 1) * HOUR_MS) - Math.max(from, k * HOUR_MS);
      const typical = profile[((k % 24) + 24) % 24] ?? NaN;
      if (Number.isFinite(typical)) expected += (typical * overlap) / HOUR_MS;
      covered.push(k - firstKey);
    }
    if (expected >= rule.minExpected) {
      gaps.push({
        from: r.firstText,
        to: r.lastText,
        rows: r.rows,
        expected: Math.round(expected),
      });
      hours.push(...covered);
    }
  }
  return { gaps, hours };
}

/** Reads a whole CSV from text or byte chunks as a file or stream yields them (plain or gzip, by magic bytes). */
export async function readCountsCsv(
  source:
    Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array> | NodeJS.ReadableStream,
  options: CountsCsvOptions,
): Promise<CountsCsvResult> {
  const reader = createCountsCsvReader(options);
  const input = Readable.from(source as AsyncIterable<string | Uint8Array>, { objectMode: false });
  const lines = createInterface({ input: await maybeGunzip(input), crlfDelay: Infinity });
  for await (const line of lines) reader.pushLine(line);
  return reader.end();
}

/** Reads a CSV file (plain or gzip). Errors name the file. */
export async function readCountsCsvFile(
  path: string,
  options: CountsCsvOptions,
): Promise<CountsCsvResult> {
  try {
    return await readCountsCsv(createReadStream(path), options);
  } catch (err) {
    if (err instanceof StrataError) {
      throw new StrataError(
        err.code,
        err.message.replace("[traffic] counts:", `[traffic] counts ${path}:`),
        {
          cause: err,
        },
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new StrataError(
      code === "ENOENT" ? "not_found" : "bad_request",
      `[traffic] counts ${path}: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
}

async function maybeGunzip(input: Readable): Promise<Readable> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return Readable.from([]);
  const chunk = first.value as Buffer | string;
  const rest = (async function* () {
    yield chunk;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer | string;
    }
  })();
  const stream = Readable.from(rest, { objectMode: false });
  const isGzip =
    typeof chunk !== "string" && chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b;
  return isGzip ? stream.pipe(createGunzip()) : stream;
}
