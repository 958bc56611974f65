import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { BacktestScore } from "../../forecast/backtest.js";
import { MODEL_NAMES } from "../../forecast/registry.js";
import { backtestTrace, type TraceBacktestReport } from "../../forecast/trace-backtest.js";
import { printJson, progress, table } from "../output.js";

/**
 * `strata forecast ...`. `backtest` works on a local trace file; `run` and `show`, which talk
 * to the control plane through the HTTP client, are registered here beside it.
 */
export function registerForecastCommands(program: Command): void {
  const forecast = program
    .command("forecast")
    .description("forecast hourly traffic and check the models");
  registerBacktest(forecast);
}

interface BacktestFlags {
  input: string;
  timeColumn: string;
  valueColumn: string;
  missingColumn?: string;
  minHistory: string;
  model: string;
  compare?: string;
  json?: boolean;
  rows?: string;
}

function registerBacktest(forecast: Command): void {
  forecast
    .command("backtest")
    .description(
      "rolling-origin backtest on a CSV of timestamps and counts: a forecast at 00:00 of every day " +
        "with enough history, from at most the last 8 weeks, for that day's 24 hourly totals",
    )
    .requiredOption("--input <file>", "CSV file (plain or gzip)")
    .requiredOption("--time-column <name>", "timestamp column")
    .requiredOption("--value-column <name>", "count column")
    .option("--missing-column <name>", "column whose truthy value marks a row missing")
    .option(
      "--min-history <duration>",
      "history a day needs to be forecast (e.g. 28d, 672h, 4w)",
      "28d",
    )
    .option("--model <name>", `model under test: ${MODEL_NAMES.join(", ")}`, "auto")
    .option(
      "--compare <names>",
      "comma-separated models scored beside it, or all (snaive-week always)",
    )
    .option("--json", "print one JSON document on stdout")
    .option("--rows <file>", "write origin,hour,actual,mean,p90 of the model under test")
    .action(async (flags: BacktestFlags) => {
      const report = await backtestTrace({
        input: flags.input,
        timeColumn: flags.timeColumn,
        valueColumn: flags.valueColumn,
        ...(flags.missingColumn ? { missingColumn: flags.missingColumn } : {}),
        minHistory: parseHours(flags.minHistory, "--min-history"),
        model: flags.model,
        compare: flags.compare
          ? flags.compare
              .split(",")
              .map((s) => s.trim())
              .filter(Boolean)
          : [],
        ...(flags.rows ? { rowsPath: flags.rows } : {}),
        onProgress: progress,
      });
      if (flags.json) printJson(report);
      else process.stdout.write(renderBacktest(report) + "\n");
    });
}

/** Parses `28d`, `672h`, `4w` or a bare number of days into hours. */
export function parseHours(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([hdw]?)$/.exec(text.trim());
  if (!m)
    throw new StrataError(
      "bad_request",
      `[forecast] ${flag}: expected a duration like 28d, 672h or 4w (got "${text}")`,
    );
  const n = Number(m[1]);
  const hours = m[2] === "h" ? n : m[2] === "w" ? n * 168 : n * 24;
  return Math.round(hours);
}

export function renderBacktest(r: TraceBacktestReport): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "-");
  const picks = (s: BacktestScore) =>
    Object.entries(s.picks)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}:${v}`)
      .join(" ");
  const gaps = r.series.zeroGaps.map((g) => `${g.from} .. ${g.to}`).join(", ");
  return [
    `${r.input}: ${r.series.hours} hours from ${r.series.start}, ${r.series.missingHours} missing` +
      (gaps ? ` (zero gap treated as missing: ${gaps})` : "") +
      (r.series.badLines ? `, ${r.series.badLines} bad lines skipped` : ""),
    `${r.contract.origins} days forecast, ${r.contract.forecastHours} hours with an actual` +
      ` (min history ${r.contract.minHistoryHours / 24} d, window ${r.contract.windowHours / 24} d)`,
    "",
    table(
      ["model", "wMAPE", "rMAE", "under", "p90 cover", "picked"],
      r.scores.map((s) => [
        s.model === r.model ? `${s.model} *` : s.model,
        pct(s.wmape),
        s.rmae.toFixed(3),
        pct(s.underShare),
        pct(s.p90Coverage),
        s.model === "auto" ? picks(s) : "",
      ]),
    ),
    "",
    `backtest ${r.seconds.backtest.toFixed(2)} s (read ${r.seconds.read.toFixed(2)} s)` +
      (r.rows ? `, rows in ${r.rows}` : ""),
  ].join("\n");
}
