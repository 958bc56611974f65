import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import { isLogFormatOption } from "../../traffic/parsers/create-line-parser.js";
import {
  followLogFiles,
  uploadCountsCsv,
  uploadLogFiles,
  type CountsReport,
  type FollowReport,
  type LogFileReport,
  type TrafficApi,
} from "../../traffic/upload.js";
import type { TrafficCheckpointResponse } from "../../wire/traffic.js";
import { createClient, type ApiClient } from "../client.js";
import { durationFlag } from "../duration-flag.js";
import { table } from "../output.js";

interface IngestFlags {
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

const PROCESS_IO: IngestIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

export function registerIngestCommand(program: Command, io: IngestIo = PROCESS_IO): void {
  program
    .command("ingest")
    .description(
      "count requests per minute in access logs (or import a counts CSV) and send them to the control plane",
    )
    .argument(
      "[files...]",
      "access logs: nginx/Apache combined or common, LTSV, JSON lines; plain or gzip",
    )
    .requiredOption("--app <app>", "app the traffic belongs to")
    .option("--format <format>", "auto, combined, common, ltsv or json", "auto")
    .option("--follow", "keep reading the files as they grow, across rotation, until interrupted")
    .option(
      "--poll-interval <duration>",
      "with --follow: how often to look for new lines (at least 10ms)",
      "1s",
    )
    .option("--counts <csv>", "import a CSV of request counts instead of logs")
    .option("--time-column <name>", "with --counts: timestamp column")
    .option("--value-column <name>", "with --counts: request count column")
    .option("--missing-column <name>", "with --counts: column flagging missing rows")
    .option("--json", "print one JSON document")
    .action(async (files: string[], flags: IngestFlags) => {
      const client = await createClient(program.opts());
      const document = await runIngest(files, flags, trafficApiOf(client), io);
      if (flags.json) io.stdout(JSON.stringify(document, null, 2) + "\n");
      else io.stdout(render(document) + "\n");
      if (document.failed) process.exitCode = 1;
    });
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

/** The one JSON document `--json` prints. */
export interface IngestDocument {
  app: string;
  mode: "files" | "follow" | "counts";
  files?: LogFileReport[];
  follow?: FollowReport[];
  counts?: CountsReport;
  totals: {
    lines: number;
    counted: number;
    malformed: number;
    requests: number;
    duplicateBatches: number;
  };
  /** Some input could not be read completely (a truncated or damaged gzip). */
  failed: boolean;
}

async function runIngest(
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

const count = (n: number) => n.toLocaleString("en-US");
const minuteText = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : null);

function render(doc: IngestDocument): string {
  const out: string[] = [];
  if (doc.files) {
    out.push(
      table(
        [
          "file",
          "format",
          "lines",
          "counted",
          "malformed",
          "minutes",
          "first (UTC)",
          "last (UTC)",
          "sent",
        ],
        doc.files.map((f) => [
          f.path,
          (f.format ?? "-") + (f.gzip ? "+gzip" : ""),
          count(f.lines),
          count(f.counted),
          count(f.malformed),
          count(f.minutes),
          minuteText(f.first),
          minuteText(f.last),
          f.upload.duplicate
            ? "duplicate, skipped"
            : `${f.upload.batches - f.upload.duplicateBatches} day(s)`,
        ]),
      ),
    );
    for (const f of doc.files) {
      for (const s of f.samples) out.push(`${f.path}:${s.line}: malformed: ${s.text}`);
      for (const e of f.errors) out.push(`${f.path}: ${e}`);
    }
  }
  if (doc.follow) {
    out.push(
      table(
        ["file", "lines", "counted", "malformed", "requests", "first (UTC)", "last (UTC)"],
        doc.follow.map((f) => [
          f.path,
          count(f.lines),
          count(f.counted),
          count(f.malformed),
          count(f.requests),
          minuteText(f.first),
          minuteText(f.last),
        ]),
      ),
    );
    for (const f of doc.follow)
      for (const s of f.samples)
        out.push(`${f.path}: line ${s.line} after the resume point: malformed: ${s.text}`);
  }
  if (doc.counts) {
    const c = doc.counts;
    out.push(
      `${c.path}: ${count(c.rows)} rows (${count(c.missingRows)} missing, ${count(c.badLines)} bad), ${count(c.requests)} requests, ` +
        `${count(c.hours)} complete hours sent, ${count(c.incompleteHours)} incomplete hours left out` +
        (c.upload.duplicate ? " (duplicate, skipped)" : ""),
    );
    for (const g of c.zeroGaps)
      out.push(`zero run taken as missing data: ${g.from} .. ${g.to} (${g.rows} rows)`);
    for (const s of c.badSamples) out.push(`${c.path}:${s.line}: ${s.reason}: ${s.text}`);
  }
  return out.join("\n");
}
