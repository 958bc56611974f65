import type { Command } from "commander";
import type { BacktestScore } from "../../forecast/backtest.js";
import { MODEL_NAMES } from "../../forecast/registry.js";
import { backtestTrace, type TraceBacktestReport } from "../../forecast/trace-backtest.js";
import type { EventView, ForecastView } from "../../wire/forecast.js";
import { createClient } from "../client.js";
import { durationFlag } from "../duration-flag.js";
import { printJson, progress, table, type OutputOptions } from "../output.js";

/**
 * `strata forecast ...`. `backtest` works on a local trace file; `run` and `show`, which talk
 * to the control plane through the HTTP client, are registered here beside it.
 */
export function registerForecastCommands(program: Command): void {
  const forecast = program
    .command("forecast")
    .description("forecast hourly traffic and check the models");
  registerBacktest(forecast);
  forecast
    .command("run")
    .description(
      "forecast the app's next hours now (from its traffic on the control plane) and store it",
    )
    .argument("<app>", "app name")
    .option("--json", "print the forecast as one JSON document")
    .action(async (app: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.post<ForecastView>(`/v1/apps/${encodeURIComponent(app)}/forecasts`);
      if (opts.json) printJson(view);
      else process.stdout.write(renderForecast(view) + "\n");
    });
  forecast
    .command("show")
    .description("the app's latest stored forecast: mean and p90 per hour, known events applied")
    .argument("<app>", "app name")
    .option("--json", "print the forecast as one JSON document")
    .action(async (app: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<ForecastView>(
        `/v1/apps/${encodeURIComponent(app)}/forecasts/latest`,
      );
      if (opts.json) printJson(view);
      else process.stdout.write(renderForecast(view) + "\n");
    });
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
        minHistory:
          durationFlag(flags.minHistory, "--min-history", {
            wholeHours: true,
            bareUnit: "d",
          }) / 3_600_000,
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

/** The score of lowest wMAPE (the first on a tie), or undefined when none is finite. */
export function bestScore(scores: readonly BacktestScore[]): BacktestScore | undefined {
  let best: BacktestScore | undefined;
  for (const s of scores) if (Number.isFinite(s.wmape) && (!best || s.wmape < best.wmape)) best = s;
  return best;
}

export function renderBacktest(r: TraceBacktestReport): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "-");
  const picks = (s: BacktestScore) =>
    Object.entries(s.picks)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}:${v}`)
      .join(" ");
  const gaps = r.series.zeroGaps.map((g) => `${g.from} .. ${g.to}`).join(", ");
  const winner = bestScore(r.scores);
  return [
    `${r.input}: ${r.series.hours} hours from ${r.series.start}, ${r.series.missingHours} missing` +
      (gaps ? ` (zero gap treated as missing: ${gaps})` : "") +
      (r.series.badLines ? `, ${r.series.badLines} bad lines skipped` : ""),
    `${r.contract.origins} days forecast, ${r.contract.forecastHours} hours with an actual` +
      ` (min history ${r.contract.minHistoryHours / 24} d, window ${r.contract.windowHours / 24} d)`,
    "",
    table(
      ["model", "wMAPE", "÷ winner", "rMAE", "under", "p90 cover", "picked"],
      r.scores.map((s) => [
        s.model === r.model ? `${s.model} *` : s.model,
        pct(s.wmape),
        winner && Number.isFinite(s.wmape) ? (s.wmape / winner.wmape).toFixed(2) : "-",
        s.rmae.toFixed(3),
        pct(s.underShare),
        pct(s.p90Coverage),
        s.model === "auto" ? picks(s) : "",
      ]),
    ),
    winner
      ? `winner: ${winner.model} (${pct(winner.wmape)}); * is the model under test`
      : "winner: none",
    "",
    `backtest ${r.seconds.backtest.toFixed(2)} s (read ${r.seconds.read.toFixed(2)} s)` +
      (r.rows ? `, rows in ${r.rows}` : ""),
  ].join("\n");
}

const BARS = "▁▂▃▄▅▆▇█";

/** One character per value, scaled from 0 to `max`. */
export function sparkline(values: readonly number[], max: number): string {
  return values
    .map((v) => BARS[max > 0 ? Math.min(7, Math.max(0, Math.round((v / max) * 7))) : 0])
    .join("");
}

/** `2024-03-01T12:00Z`: ISO 8601 UTC to the minute. */
const shortTime = (iso: string) => iso.slice(0, 16) + "Z";

export function describeEvent(e: EventView): string {
  return `#${e.id} ${shortTime(e.from)} .. ${shortTime(e.to)} x${e.factor}${e.note ? ` ${e.note}` : ""}`;
}

export function renderForecast(f: ForecastView): string {
  const max = Math.max(...f.hours.map((h) => h.p90), 0);
  const model = f.requested_model === f.model ? f.model : `${f.model} (${f.requested_model})`;
  const history = f.history.from
    ? `${f.history.hours_with_data} hours with data since ${shortTime(f.history.from)}, ${f.history.missing_hours} missing`
    : "none";
  return [
    `${f.app}: forecast ${f.id} from ${shortTime(f.origin)} for ${f.hours.length} h, model ${model}, ` +
      `zone ${f.zone}`,
    `made ${shortTime(f.created_at)} (${f.trigger}); history: ${history}`,
    ...(f.backtest
      ? [
          `backtest on its own history: wMAPE ${
            f.backtest.wmape === null ? "-" : `${(f.backtest.wmape * 100).toFixed(1)}%`
          } over ${f.backtest.days} days (${f.backtest.hours} hours, first-day forecasts)`,
        ]
      : []),
    ...f.events.map((e) => `event ${describeEvent(e)}`),
    `mean ${sparkline(
      f.hours.map((h) => h.mean),
      max,
    )}`,
    `p90  ${sparkline(
      f.hours.map((h) => h.p90),
      max,
    )}`,
    "",
    table(
      ["hour (UTC)", "mean", "p90", "events"],
      f.hours.map((h) => [
        shortTime(h.time),
        Math.round(h.mean),
        Math.round(h.p90),
        h.factor === 1 ? "" : `x${h.factor}`,
      ]),
    ),
  ].join("\n");
}
