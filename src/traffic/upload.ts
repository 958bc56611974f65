import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { StrataError } from "../lib/errors.js";
import type {
  PostTrafficResponse,
  PostTrafficRequest,
  TrafficMinute,
  TrafficSource,
} from "../wire/traffic.js";
import type { CountsCsvOptions } from "./counts/counts-reader.js";
import { readCountsCsvFile } from "./counts/read-counts-csv.js";
import { followLog, type FollowBatch } from "./follow.js";
import { ingestLogFile, type FileIngest } from "./ingest-file.js";
import type { MalformedSample } from "./log-counter.js";
import { HOUR_MS, MINUTE_MS, type MinuteCounts } from "./minute-counter.js";
import type { LogFormat, LogFormatOption } from "./parsers/line-parser.js";

/** The control plane's traffic API as ingestion uses it (the CLI implements it over HTTP). */
export interface TrafficApi {
  /** Adds a batch; the server deduplicates by `body.source`. Safe to retry. */
  post(app: string, body: PostTrafficRequest): Promise<PostTrafficResponse>;
  /** Where reading a followed file stopped (its checkpoint offset), or null. */
  checkpoint(app: string, key: string): Promise<number | null>;
}

const DAY_MS = 86_400_000;

/** ISO form of stored minutes, for the wire. */
export function toWireMinutes(minutes: MinuteCounts[]): TrafficMinute[] {
  return minutes.map(({ minute, ...counts }) => ({
    minute: new Date(minute).toISOString(),
    ...counts,
  }));
}

/**
 * Splits a file's minutes into one batch per UTC day. The day number is the
 * batch's `part`, so a re-run sends the same (key, part) pairs whatever
 * changed in the client, and a run stopped half-way resumes without double counting.
 */
export function batchesByDay(minutes: MinuteCounts[]): { part: number; minutes: MinuteCounts[] }[] {
  const days = new Map<number, MinuteCounts[]>();
  for (const m of minutes) {
    const day = Math.floor(m.minute / DAY_MS);
    let list = days.get(day);
    if (!list) days.set(day, (list = []));
    list.push(m);
  }
  return [...days.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([part, list]) => ({ part, minutes: list }));
}

/** What posting one source did. */
export interface UploadOutcome {
  batches: number;
  /** Batches the server had already (a re-ingest); their lines were not counted again. */
  duplicateBatches: number;
  acceptedMinutes: number;
  /** Every batch was a duplicate: the whole source had been ingested before. */
  duplicate: boolean;
}

async function postByDay(
  api: TrafficApi,
  app: string,
  key: string,
  path: string,
  minutes: MinuteCounts[],
): Promise<UploadOutcome> {
  const outcome: UploadOutcome = {
    batches: 0,
    duplicateBatches: 0,
    acceptedMinutes: 0,
    duplicate: false,
  };
  for (const batch of batchesByDay(minutes)) {
    const source: TrafficSource = { key, part: batch.part, path };
    const res = await api.post(app, { source, minutes: toWireMinutes(batch.minutes) });
    outcome.batches++;
    outcome.acceptedMinutes += res.accepted;
    if (res.duplicate) outcome.duplicateBatches++;
  }
  outcome.duplicate = outcome.batches > 0 && outcome.duplicateBatches === outcome.batches;
  return outcome;
}

/** One ingested log file, as reported to the user. */
export interface LogFileReport {
  path: string;
  gzip: boolean;
  /** The format most lines had; null when none counted. */
  format: LogFormat | null;
  formats: Partial<Record<LogFormat, number>>;
  sha256: string;
  lines: number;
  counted: number;
  malformed: number;
  samples: MalformedSample[];
  /** Minutes with requests. */
  minutes: number;
  requests: number;
  first: string | null;
  last: string | null;
  errors: string[];
  upload: UploadOutcome;
}

export interface UploadLogFilesOptions {
  api: TrafficApi;
  app: string;
  files: string[];
  /** @default "auto" */
  format?: LogFormatOption;
  /** Progress while a file is read (throttling is the caller's). */
  onProgress?: (file: string, progress: { decodedBytes: number; lines: number }) => void;
}

/**
 * Reads each log file, counts it per minute locally, then posts the minutes
 * per UTC day under the file's content hash, so a file ingested before (also
 * renamed, or gzipped by logrotate since) adds nothing.
 * Every file is read before anything is posted.
 * @throws StrataError `not_found` before reading anything when a file is missing;
 *   `bad_request` before posting anything when a file has lines but no valid one.
 */
export async function uploadLogFiles(options: UploadLogFilesOptions): Promise<LogFileReport[]> {
  await ensureFiles(options.files);
  const reads: FileIngest[] = [];
  for (const path of options.files) {
    const read = await ingestLogFile(path, {
      ...(options.format ? { format: options.format } : {}),
      onProgress: (p) => options.onProgress?.(path, p),
    });
    ensureSomeValidLine(read);
    reads.push(read);
  }
  const reports: LogFileReport[] = [];
  for (const read of reads) {
    const upload = await postByDay(options.api, options.app, read.sha256, read.path, read.minutes);
    reports.push(reportOf(read, upload));
  }
  return reports;
}

/**
 * A file whose every line is malformed is not an access log (a binary, the wrong file):
 * an error, before anything is sent. An empty file is not an error.
 */
function ensureSomeValidLine(read: FileIngest): void {
  if (read.counted > 0 || read.lines === 0) return;
  const first = read.samples[0];
  throw new StrataError(
    "bad_request",
    `[traffic] ingest ${read.path}: no valid log line; all ${read.lines} lines are malformed` +
      (first ? ` (line ${first.line}: ${first.text.slice(0, 80)})` : ""),
  );
}

function reportOf(read: FileIngest, upload: UploadOutcome): LogFileReport {
  const formats = Object.entries(read.formats) as [LogFormat, number][];
  formats.sort((a, b) => b[1] - a[1]);
  return {
    path: read.path,
    gzip: read.gzip,
    format: formats[0]?.[0] ?? null,
    formats: read.formats,
    sha256: read.sha256,
    lines: read.lines,
    counted: read.counted,
    malformed: read.malformed,
    samples: read.samples,
    minutes: read.minutes.length,
    requests: read.minutes.reduce((sum, m) => sum + m.total, 0),
    first: iso(read.first),
    last: iso(read.last),
    errors: read.errors.map((e) => e.message),
    upload,
  };
}

async function ensureFiles(files: string[]): Promise<void> {
  for (const path of files) {
    try {
      if (!(await stat(path)).isFile()) throw new Error("not a regular file");
    } catch (err) {
      throw new StrataError("not_found", `[traffic] ingest ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Running totals of a follow, per file. */
export interface FollowReport {
  path: string;
  batches: number;
  duplicateBatches: number;
  lines: number;
  counted: number;
  malformed: number;
  samples: MalformedSample[];
  requests: number;
  first: string | null;
  last: string | null;
}

export interface FollowLogFilesOptions {
  api: TrafficApi;
  app: string;
  files: string[];
  signal: AbortSignal;
  /** @default "auto" */
  format?: LogFormatOption;
  /** @default 1000 */
  pollMs?: number;
  /** Called after every batch the server took. */
  onBatch?: (path: string, batch: FollowBatch, report: FollowReport) => void;
}

/**
 * Follows live logs until `signal` aborts, posting each batch with its byte
 * range so the server's checkpoint moves with it; on start, each file resumes
 * at its checkpoint. Resolves with the totals of this run.
 */
export async function followLogFiles(options: FollowLogFilesOptions): Promise<FollowReport[]> {
  const reports = options.files.map((path): FollowReport => ({
    path,
    batches: 0,
    duplicateBatches: 0,
    lines: 0,
    counted: 0,
    malformed: 0,
    samples: [],
    requests: 0,
    first: null,
    last: null,
  }));
  // One failing follower stops the others, so the command exits with its error.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.all(
      options.files.map((path, i) =>
        followLog({
          path,
          signal: stop.signal,
          ...(options.format ? { format: options.format } : {}),
          ...(options.pollMs ? { pollMs: options.pollMs } : {}),
          resume: (key) => options.api.checkpoint(options.app, key),
          onBatch: async (batch) => {
            const source: TrafficSource = {
              key: batch.key,
              start: batch.start,
              end: batch.end,
              inode: batch.inode,
              path: batch.path,
            };
            const res = await options.api.post(options.app, {
              source,
              minutes: toWireMinutes(batch.minutes),
            });
            const report = reports[i]!;
            report.batches++;
            if (res.duplicate) report.duplicateBatches++;
            report.lines += batch.lines;
            report.counted += batch.counted;
            report.malformed += batch.malformed;
            for (const s of batch.samples) if (report.samples.length < 5) report.samples.push(s);
            report.requests += batch.minutes.reduce((sum, m) => sum + m.total, 0);
            const first = batch.minutes[0]?.minute;
            const last = batch.minutes.at(-1)?.minute;
            if (first !== undefined && (report.first === null || iso(first)! < report.first))
              report.first = iso(first);
            if (last !== undefined && (report.last === null || iso(last)! > report.last))
              report.last = iso(last);
            options.onBatch?.(path, batch, report);
          },
        }).catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
      ),
    );
  } finally {
    options.signal.removeEventListener("abort", onAbort);
  }
  return reports;
}

/** An imported counts CSV, as reported to the user. */
export interface CountsReport {
  path: string;
  rows: number;
  missingRows: number;
  badLines: number;
  badSamples: { line: number; reason: string; text: string }[];
  requests: number;
  /** Complete hours posted. */
  hours: number;
  /** Hours left out because part of them is missing (flagged, empty, or in a zero gap). */
  incompleteHours: number;
  zeroGaps: { from: string; to: string; rows: number }[];
  first: string | null;
  last: string | null;
  upload: UploadOutcome;
}

export interface UploadCountsCsvOptions extends Omit<CountsCsvOptions, "badSamples"> {
  api: TrafficApi;
  app: string;
  path: string;
}

/**
 * Imports a CSV of request counts through the counts reader of
 * counts/counts-reader.ts. The reader yields hours; each complete hour's total is
 * spread over its 60 minutes (integers, remainder on the first minutes) so
 * hourly sums are exact and the store knows the hour is complete. Hours with
 * missing data are not posted at all: missing is not zero. Status classes are
 * unknown, so only `total` is set. Deduplicated by the file's hash and the columns read.
 */
export async function uploadCountsCsv(options: UploadCountsCsvOptions): Promise<CountsReport> {
  const { api, app, path, ...csvOptions } = options;
  await ensureFiles([path]);
  const csv = await readCountsCsvFile(path, csvOptions);
  const minutes: MinuteCounts[] = [];
  let incompleteHours = 0;
  for (let i = 0; i < csv.values.length; i++) {
    const value = csv.values[i]!;
    if (!csv.complete[i] || !Number.isFinite(value)) {
      incompleteHours++;
      continue;
    }
    const start = csv.start + i * HOUR_MS - zoneOffsetMs(csv.zones[i] ?? "");
    const total = Math.round(value);
    const base = Math.floor(total / 60);
    const extra = total - base * 60;
    for (let m = 0; m < 60; m++) {
      const n = base + (m < extra ? 1 : 0);
      minutes.push({ minute: start + m * MINUTE_MS, total: n, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0 });
    }
  }
  const key = `counts:${await countsKey(path, csvOptions)}`;
  const upload = await postByDay(api, app, key, path, minutes);
  return {
    path,
    rows: csv.rows,
    missingRows: csv.missingRows,
    badLines: csv.badLines,
    badSamples: csv.badSamples,
    requests: csv.total,
    hours: minutes.length / 60,
    incompleteHours,
    zeroGaps: csv.zeroGaps.map((g) => ({ from: g.from, to: g.to, rows: g.rows })),
    first: iso(minutes[0]?.minute ?? null),
    last: iso(minutes.at(-1)?.minute ?? null),
    upload,
  };
}

/** Offset of a zone suffix as the counts reader writes it (`""` naive = UTC, `Z`, `+HH:MM`). */
function zoneOffsetMs(zone: string): number {
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  return (m[1] === "-" ? -minutes : minutes) * MINUTE_MS;
}

/** Hash of the file's bytes and of the columns read: another column of the same file is other data. */
async function countsKey(
  path: string,
  options: Omit<CountsCsvOptions, "badSamples">,
): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  hash.update(
    JSON.stringify([options.timeColumn, options.valueColumn, options.missingColumn ?? null]),
  );
  return hash.digest("hex");
}
