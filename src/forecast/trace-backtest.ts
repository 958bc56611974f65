import { writeFile } from "node:fs/promises";
import { StrataError } from "../lib/errors.js";
import type { CountsCsvOptions, CountsCsvResult } from "../traffic/counts/counts-reader.js";
import { readCountsCsvFile } from "../traffic/counts/read-counts-csv.js";
import { formatWallTime } from "../traffic/counts/wall-time.js";
import { type BacktestRow, type BacktestScore, runBacktest } from "./backtest.js";
import { MODEL_NAMES } from "./registry.js";
import { DAY_HOURS, HOUR_MS, WEEK_HOURS } from "./series.js";

/** Options of {@link backtestTrace}. */
export interface TraceBacktestOptions extends CountsCsvOptions {
  /** CSV file of timestamps and counts (plain or gzip). */
  input: string;
  /** The model under test. @default "auto" */
  model?: string;
  /** Models scored beside it (`all` = every model); `snaive-week` is always included. @default [] */
  compare?: string[];
  /** Hours of series a day needs before it to be forecast. @default 672 */
  minHistory?: number;
  /** Writes `origin,hour,actual,mean,p90` of the model under test to this path. */
  rowsPath?: string;
  onProgress?: (line: string) => void;
}

/** What `strata forecast backtest` reports. */
export interface TraceBacktestReport {
  input: string;
  series: {
    start: string;
    end: string;
    hours: number;
    missingHours: number;
    total: number;
    stepSeconds: number;
    badLines: number;
    zeroGaps: CountsCsvResult["zeroGaps"];
  };
  contract: {
    minHistoryHours: number;
    windowHours: number;
    horizonHours: number;
    origins: number;
    forecastHours: number;
  };
  model: string;
  scores: BacktestScore[];
  seconds: { read: number; backtest: number };
  rows?: string;
}

/** Reads a trace, runs the backtest contract on it and optionally writes the forecast rows. */
export async function backtestTrace(options: TraceBacktestOptions): Promise<TraceBacktestReport> {
  const model = options.model ?? "auto";
  const compare = options.compare ?? [];
  const names = [model, "snaive-week", ...(compare.includes("all") ? MODEL_NAMES : compare)].filter(
    (n, i, all) => all.indexOf(n) === i,
  );
  for (const n of names) {
    if (!MODEL_NAMES.includes(n)) {
      throw new StrataError(
        "bad_request",
        `[forecast] unknown model "${n}" (known: ${MODEL_NAMES.join(", ")})`,
      );
    }
  }
  const t0 = performance.now();
  options.onProgress?.(`reading ${options.input}`);
  const counts = await readCountsCsvFile(options.input, options);
  const t1 = performance.now();
  const minHistory = options.minHistory ?? 28 * DAY_HOURS;
  const window = 8 * WEEK_HOURS;
  let lastShown = 0;
  const result = runBacktest(counts, {
    models: names,
    minHistory,
    window,
    onProgress: (done, total) => {
      if (done === total || done - lastShown >= 10) {
        lastShown = done;
        options.onProgress?.(`backtest: ${done}/${total} days`);
      }
    },
  });
  const t2 = performance.now();
  if (result.origins.length === 0) {
    throw new StrataError(
      "bad_request",
      `[forecast] backtest ${options.input}: no whole day has ${minHistory / DAY_HOURS} days of history before it (the series has ${counts.values.length} hours)`,
    );
  }
  const rows = result.rows[model] as BacktestRow[];
  if (options.rowsPath) await writeFile(options.rowsPath, rowsCsv(rows, counts));
  const n = counts.values.length;
  return {
    input: options.input,
    series: {
      start: formatWallTime(counts.start, counts.zones[0] ?? ""),
      end: formatWallTime(counts.start + n * HOUR_MS, counts.zones[n - 1] ?? ""),
      hours: n,
      missingHours: counts.complete.filter((c) => !c).length,
      total: counts.total,
      stepSeconds: counts.stepSeconds,
      badLines: counts.badLines,
      zeroGaps: counts.zeroGaps,
    },
    contract: {
      minHistoryHours: minHistory,
      windowHours: window,
      horizonHours: DAY_HOURS,
      origins: result.origins.length,
      forecastHours: result.scores[0]?.hours ?? 0,
    },
    model,
    scores: result.scores,
    seconds: { read: (t1 - t0) / 1000, backtest: (t2 - t1) / 1000 },
    ...(options.rowsPath ? { rows: options.rowsPath } : {}),
  };
}

/** `origin,hour,actual,mean,p90`, times as written (offset kept, naive stays naive). */
export function rowsCsv(
  rows: readonly BacktestRow[],
  counts: Pick<CountsCsvResult, "start" | "zones">,
): string {
  const zoneAt = (wall: number) => counts.zones[Math.round((wall - counts.start) / HOUR_MS)] ?? "";
  const num = (x: number) => String(Math.round(x * 100) / 100);
  const lines = ["origin,hour,actual,mean,p90"];
  for (const r of rows) {
    lines.push(
      [
        formatWallTime(r.origin, zoneAt(r.origin)),
        formatWallTime(r.hour, zoneAt(r.hour)),
        Number.isNaN(r.actual) ? "" : String(r.actual),
        num(r.mean),
        num(r.p90),
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}
