import { escapeText } from "../../lib/escape.js";
import { StrataError } from "../../lib/errors.js";
import { parseFlag, splitCsvLine } from "./csv-line.js";
import { parseTimestamp, type ParsedTime } from "./wall-time.js";
import {
  createZeroRunTracker,
  DEFAULT_ZERO_RUN,
  findZeroGaps,
  type ZeroGap,
  type ZeroRunRule,
} from "./zero-gaps.js";

const HOUR_MS = 3_600_000;
const SAMPLE_CHARS = 200;

/** Options of {@link createCountsCsvReader}. */
export interface CountsCsvOptions {
  /** Header name of the timestamp column. */
  timeColumn: string;
  /** Header name of the count column; an empty cell is a missing step. */
  valueColumn: string;
  /** Header name of a flag column; a truthy cell (`1`, `true`, `yes`) marks the row missing whatever its count. */
  missingColumn?: string;
  /**
   * Which runs of exact zeros are missing data (see {@link ZeroRunRule}); `false` turns it off.
   * @default { minHours: 1, minExpected: 50 }
   */
  zeroRun?: ZeroRunRule | false;
  /** How many bad lines to keep as samples. @default 5 */
  badSamples?: number;
}

/** A line that was counted and skipped. */
export interface BadLine {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  reason: string;
  /** The line's first 200 characters, control characters escaped. */
  text: string;
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

interface Columns {
  time: number;
  value: number;
  /** -1 without a missing column. */
  missing: number;
  width: number;
}

/** One data row: its time, and its count or NaN when the step is missing. */
interface Row {
  time: ParsedTime;
  timeText: string;
  value: number;
}

interface HourAcc {
  sum: number;
  good: number;
  missing: number;
  zone: string;
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
  const steps = new Map<number, number>();
  const zeroRuns = createZeroRunTracker();
  const badSamples: BadLine[] = [];
  let columns: Columns | undefined;
  let lineNo = 0;
  let rows = 0;
  let missingRows = 0;
  let badLines = 0;
  let total = 0;
  let prevInstant: number | undefined;

  const countRow = (row: Row) => {
    rows++;
    const { time } = row;
    if (prevInstant !== undefined && time.instant > prevInstant) {
      const d = Math.round((time.instant - prevInstant) / 1000);
      steps.set(d, (steps.get(d) ?? 0) + 1);
    }
    prevInstant = time.instant;
    const key = Math.floor(time.wall / HOUR_MS);
    let acc = hours.get(key);
    if (!acc) hours.set(key, (acc = { sum: 0, good: 0, missing: 0, zone: time.zone }));
    if (Number.isNaN(row.value)) {
      missingRows++;
      acc.missing++;
      zeroRuns.other();
      return;
    }
    acc.sum += row.value;
    acc.good++;
    total += row.value;
    if (row.value === 0) zeroRuns.zero(time.wall, row.timeText);
    else zeroRuns.other();
  };

  const pushLine = (raw: string) => {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (!columns) {
      if (line.trim() !== "") columns = readHeader(line, options, lineNo);
      return;
    }
    if (line.trim() === "") return;
    const row = parseRow(splitCsvLine(line), columns);
    if (typeof row === "string") {
      badLines++;
      if (badSamples.length < maxSamples)
        badSamples.push({
          line: lineNo,
          reason: row,
          text: escapeText(line.slice(0, SAMPLE_CHARS)),
        });
      return;
    }
    countRow(row);
  };

  const end = (): CountsCsvResult => {
    const runs = zeroRuns.runs();
    if (!columns)
      throw new StrataError("bad_request", "[traffic] counts: the file is empty (no header line)");
    if (hours.size === 0) {
      const hint = badSamples[0] ? ` (line ${badSamples[0].line}: ${badSamples[0].reason})` : "";
      throw new StrataError("bad_request", `[traffic] counts: no data row parsed${hint}`);
    }
    const stepSeconds = mostFrequentStep(steps);
    const grid = hourGrid(hours, 3600 / stepSeconds);
    const zeroGaps = zeroRule
      ? findZeroGaps(runs, zeroRule, stepSeconds, grid.firstKey, grid.totals, grid.complete)
      : { gaps: [], hours: [] };
    for (const g of zeroGaps.hours) grid.complete[g] = false;
    return {
      start: grid.firstKey * HOUR_MS,
      totals: grid.totals,
      values: grid.totals.map((v, i) => (grid.complete[i] ? v : NaN)),
      complete: grid.complete,
      zones: grid.zones,
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

function readHeader(line: string, options: CountsCsvOptions, lineNo: number): Columns {
  const names = splitCsvLine(line.replace(/^\uFEFF/, "")).map((n) => n.trim());
  const find = (flag: string, name: string) => {
    const i = names.indexOf(name);
    if (i < 0) {
      throw new StrataError(
        "bad_request",
        `[traffic] counts: ${flag} "${name}" is not a column of the header (line ${lineNo}: ${escapeText(names.join(", "))})`,
      );
    }
    return i;
  };
  const time = find("time column", options.timeColumn);
  const value = find("value column", options.valueColumn);
  const missing = options.missingColumn ? find("missing column", options.missingColumn) : -1;
  return { time, value, missing, width: Math.max(time, value, missing) + 1 };
}

/** The row of the cells, or why the line is bad. */
function parseRow(cells: string[], columns: Columns): Row | string {
  if (cells.length < columns.width) return `expected at least ${columns.width} fields`;
  const timeCell = cells[columns.time] as string;
  const time = parseTimestamp(timeCell);
  if (!time) return `unparseable timestamp "${escapeText(timeCell.slice(0, 40))}"`;
  let missing = false;
  if (columns.missing >= 0) {
    const flagCell = cells[columns.missing] as string;
    const flag = parseFlag(flagCell);
    if (flag === undefined)
      return `unparseable missing flag "${escapeText(flagCell.slice(0, 40))}"`;
    missing = flag;
  }
  const valueText = (cells[columns.value] as string).trim();
  let value = NaN;
  if (valueText !== "" && !missing) {
    value = Number(valueText);
    if (!Number.isFinite(value) || value < 0)
      return `bad count "${escapeText(valueText.slice(0, 40))}"`;
  }
  return { time, timeText: timeCell.trim(), value };
}

/** The sampling step: the most frequent gap between rows (the smaller on a tie); it must divide an hour. */
function mostFrequentStep(steps: Map<number, number>): number {
  let stepSeconds = 3600;
  let best = 0;
  for (const [d, n] of steps) {
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
  return stepSeconds;
}

/** The dense grid of hours from the first to the last seen; an hour is complete with all its steps good. */
function hourGrid(
  hours: Map<number, HourAcc>,
  stepsPerHour: number,
): { firstKey: number; totals: number[]; complete: boolean[]; zones: string[] } {
  const keys = [...hours.keys()];
  const firstKey = Math.min(...keys);
  const n = Math.max(...keys) - firstKey + 1;
  const totals = new Array<number>(n).fill(0);
  const complete = new Array<boolean>(n).fill(false);
  const zones = new Array<string>(n);
  let zone = hours.get(firstKey)?.zone ?? "";
  for (let i = 0; i < n; i++) {
    const acc = hours.get(firstKey + i);
    if (acc) {
      totals[i] = acc.sum;
      complete[i] = acc.missing === 0 && acc.good >= stepsPerHour;
      zone = acc.zone;
    }
    zones[i] = zone;
  }
  return { firstKey, totals, complete, zones };
}
