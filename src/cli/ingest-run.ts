import { durationFlag } from "./duration-flag.js";
import { StrataError } from "../lib/errors.js";
import { isLogFormatOption } from "../traffic/parsers/create-line-parser.js";
import {
  followLogFiles,
  uploadCountsCsv,
  uploadLogFiles,
  type TrafficApi,
} from "../traffic/upload.js";
import type { TrafficCheckpointResponse } from "../wire/traffic.js";
import type { ApiClient } from "./client.js";
import type { IngestDocument } from "./ingest-view.js";

/** `strata ingest`'s flags, as commander parses them. */
export interface IngestFlags {
  app: string;
  format: string;
  follow?: boolean;
  json?: boolean;
  counts?: string;
  timeColumn?: string;
  valueColumn?: string;
  missingColumn?: string;
  pollInterval: string;
}

/** Where the command writes and what stops `--follow`; tests pass their own. */
export interface IngestIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Stops `--follow`. @default aborted on SIGINT or SIGTERM */
  signal?: AbortSignal;
}

/** The traffic API over the CLI's HTTP client. */
export function trafficApiOf(client: ApiClient): TrafficApi {
  const base = (app: string) => `/v1/apps/${encodeURIComponent(app)}/traffic`;
  return {
    post: (app, body) => client.post(base(app), body),
    checkpoint: async (app, key) => {
      const res = await client.get<TrafficCheckpointResponse>(
        `${base(app)}/checkpoint?key=${encodeURIComponent(key)}`,
      );
      return res.checkpoint?.offset ?? null;
    },
  };
}

/** Reads, counts and sends what the flags name; progress goes to `io.stderr`. */
export async function runIngest(
  files: string[],
  flags: IngestFlags,
  api: TrafficApi,
  io: IngestIo,
): Promise<IngestDocument> {
  const app = flags.app;
  if (flags.counts) {
    if (files.length > 0 || flags.follow) {
      throw new StrataError(
        "bad_request",
        "[cli] ingest: --counts takes no log files and no --follow",
      );
    }
    if (!flags.timeColumn || !flags.valueColumn) {
      throw new StrataError(
        "bad_request",
        "[cli] ingest --counts: --time-column and --value-column are required",
      );
    }
    const counts = await uploadCountsCsv({
      api,
      app,
      path: flags.counts,
      timeColumn: flags.timeColumn,
      valueColumn: flags.valueColumn,
      ...(flags.missingColumn ? { missingColumn: flags.missingColumn } : {}),
    });
    return {
      app,
      mode: "counts",
      counts,
      totals: {
        lines: counts.rows + counts.badLines,
        counted: counts.rows,
        malformed: counts.badLines,
        requests: counts.requests,
        duplicateBatches: counts.upload.duplicateBatches,
      },
      failed: false,
    };
  }
  if (files.length === 0)
    throw new StrataError("bad_request", "[cli] ingest: give log files, or --counts CSV");
  if (!isLogFormatOption(flags.format)) {
    throw new StrataError(
      "bad_request",
      `[cli] ingest --format: "${flags.format}" is not auto, combined, common, ltsv or json`,
    );
  }
  const format = flags.format;

  if (flags.follow) {
    const pollMs = durationFlag(flags.pollInterval, "--poll-interval", {
      min: 10,
      bareUnit: "ms",
    });
    const { signal, dispose } = io.signal
      ? { signal: io.signal, dispose: () => {} }
      : interruptSignal();
    try {
      const follow = await followLogFiles({
        api,
        app,
        files,
        format,
        pollMs,
        signal,
        onBatch: (path, batch, report) => {
          if (batch.lines > 0) {
            io.stderr(
              `ingest: ${path}: +${batch.counted} lines (${report.counted} counted, ${report.malformed} malformed)\n`,
            );
          }
        },
      });
      return {
        app,
        mode: "follow",
        follow,
        totals: sumTotals(follow, (r) => r.duplicateBatches),
        failed: false,
      };
    } finally {
      dispose();
    }
  }

  const started = Date.now();
  let shown = started;
  const reports = await uploadLogFiles({
    api,
    app,
    files,
    format,
    onProgress: (path, p) => {
      const now = Date.now();
      if (now - shown < 2000) return;
      shown = now;
      io.stderr(
        `ingest: ${path}: ${(p.decodedBytes / 1048576).toFixed(0)} MiB, ${p.lines.toLocaleString("en-US")} lines\n`,
      );
    },
  });
  return {
    app,
    mode: "files",
    files: reports,
    totals: sumTotals(reports, (r) => r.upload.duplicateBatches),
    failed: reports.some((r) => r.errors.length > 0),
  };
}

function sumTotals<
  T extends { lines: number; counted: number; malformed: number; requests: number },
>(reports: T[], duplicates: (r: T) => number): IngestDocument["totals"] {
  const totals = { lines: 0, counted: 0, malformed: 0, requests: 0, duplicateBatches: 0 };
  for (const r of reports) {
    totals.lines += r.lines;
    totals.counted += r.counted;
    totals.malformed += r.malformed;
    totals.requests += r.requests;
    totals.duplicateBatches += duplicates(r);
  }
  return totals;
}

function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
    },
  };
}
