import type { CountsReport, FollowReport, LogFileReport } from "../traffic/upload.js";
import { table } from "./output.js";

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

const count = (n: number) => n.toLocaleString("en-US");
const minuteText = (iso: string | null) => (iso ? iso.slice(0, 16).replace("T", " ") : null);

/** Human output of `strata ingest`: a table per mode, then malformed samples and errors. */
export function renderIngest(doc: IngestDocument): string {
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
