/**
 * The forecast backtest contract on the real traces (../shared/data), timed, beside the
 * reference figures measured under the same contract with R forecast 8.20 and Prophet 1.0.
 * Times: the full backtest of each trace as `strata forecast backtest` runs it (auto +
 * snaive-week, reading included), and one 48 h `auto` forecast from 8 weeks of history.
 * Usage: npx tsx bench/forecast-backtest.bench.ts [--runs 3] [--data ../shared/data]
 * Writes docs/benchmarks/forecast.json and docs/benchmarks/forecast.md; prints the JSON.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { BacktestScore } from "../src/forecast/backtest.js";
import { createForecastModel } from "../src/forecast/registry.js";
import { HOUR_MS, hourOfDay, sliceSeries, tail } from "../src/forecast/series.js";
import { backtestTrace, type TraceBacktestReport } from "../src/forecast/trace-backtest.js";
import type { CountsCsvOptions } from "../src/traffic/counts/counts-reader.js";
import { readCountsCsvFile } from "../src/traffic/counts/read-counts-csv.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    data: { type: "string", default: "../shared/data" },
  },
});
const runs = Math.max(1, Number(values.runs));
const COMMAND = `npx tsx bench/forecast-backtest.bench.ts --runs ${runs}`;

interface Trace {
  name: string;
  file: string;
  columns: CountsCsvOptions;
  cli: string;
  reference: {
    forecastHours: number;
    snaiveWeek: number;
    bestR: number;
    bestRModel: string;
    prophet: number;
  };
}

const TRACES: Trace[] = [
  {
    name: "NASA",
    file: "nasa_traffic_5m.csv",
    columns: { timeColumn: "timestamp", valueColumn: "request_count", missingColumn: "is_outage" },
    cli: "--time-column timestamp --value-column request_count --missing-column is_outage",
    reference: {
      forecastHours: 705,
      snaiveWeek: 0.22,
      bestR: 0.177,
      bestRModel: "MSTL+ETS",
      prophet: 0.24,
    },
  },
  {
    name: "World Cup 98",
    file: "worldcup98_1m.csv",
    columns: { timeColumn: "period", valueColumn: "count" },
    cli: "--time-column period --value-column count",
    reference: {
      forecastHours: 1392,
      snaiveWeek: 0.682,
      bestR: 0.42,
      bestRModel: "(best R)",
      prophet: 0.694,
    },
  },
];

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

const results = [];
for (const t of TRACES) {
  const input = join(values.data, t.file);
  const seconds: number[] = [];
  let report: TraceBacktestReport | undefined;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    report = await backtestTrace({ input, ...t.columns, model: "auto" });
    seconds.push((performance.now() - t0) / 1000);
  }
  const all = await backtestTrace({ input, ...t.columns, model: "auto", compare: ["all"] });
  const counts = await readCountsCsvFile(input, t.columns);
  // Ends at the trace's last midnight, as the daily job would forecast.
  const end = counts.values.length - hourOfDay(counts.start + counts.values.length * HOUR_MS);
  const history = tail(sliceSeries(counts, 0, end), 8 * 168);
  const forecastMs: number[] = [];
  let picked = "";
  for (let i = 0; i < Math.max(3, runs); i++) {
    const t0 = performance.now();
    picked = createForecastModel("auto").forecast(history, 48).model;
    forecastMs.push(performance.now() - t0);
  }
  const r = report as TraceBacktestReport;
  const score = (name: string) => r.scores.find((s) => s.model === name) as BacktestScore;
  const auto = score("auto");
  results.push({
    trace: t.name,
    file: t.file,
    command: `npx tsx src/cli/main.ts forecast backtest --input ../shared/data/${t.file} ${t.cli}`,
    forecastHours: auto.hours,
    snaiveWeek: score("snaive-week"),
    auto,
    allModels: all.scores,
    reference: t.reference,
    ratios: {
      autoToBestR: auto.wmape / t.reference.bestR,
      autoToProphet: auto.wmape / t.reference.prophet,
    },
    backtestSeconds: { median: median(seconds), min: Math.min(...seconds), runs: seconds },
    forecast48hMs: { median: median(forecastMs), runs: forecastMs, picked },
  });
}

const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version };
const doc = { command: COMMAND, machine, date: new Date().toISOString(), results };

const md = [
  "# Forecast backtest",
  "",
  `Made by \`${COMMAND}\` on ${machine.cpus} cores (${machine.model}), Node ${machine.node}.`,
  "Contract: hourly totals; a forecast at 00:00 of every day with at least 28 days of history",
  "before it, from at most the last 8 weeks, for that day's 24 hours; scored over every forecast",
  "hour with an actual. Reference figures: same contract, R forecast 8.20 and Prophet 1.0.",
  "",
  "| trace | hours | snaive-week (ref) | auto wMAPE | best R | Prophet | auto / best R | auto / Prophet | rMAE | under | p90 cover | backtest s | 48 h forecast ms |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map(
    (x) =>
      `| ${x.trace} | ${x.forecastHours} (ref ${x.reference.forecastHours}) | ${pct(x.snaiveWeek.wmape)} (${pct(x.reference.snaiveWeek)}) | ` +
      `${pct(x.auto.wmape)} | ${pct(x.reference.bestR)} ${x.reference.bestRModel} | ${pct(x.reference.prophet)} | ` +
      `${x.ratios.autoToBestR.toFixed(2)} | ${x.ratios.autoToProphet.toFixed(2)} | ${x.auto.rmae.toFixed(3)} | ` +
      `${pct(x.auto.underShare)} | ${pct(x.auto.p90Coverage)} | ${x.backtestSeconds.median.toFixed(2)} | ` +
      `${x.forecast48hMs.median.toFixed(0)} |`,
  ),
  "",
  "Backtest seconds: median of the runs of the full CLI backtest (read + auto + snaive-week).",
  "",
  "## Every model under the same contract",
  "",
  ...results.flatMap((x) => [
    `${x.trace} (\`${x.command} --compare all\`):`,
    "",
    "| model | wMAPE | rMAE | under | p90 cover | auto picked |",
    "|---|---|---|---|---|---|",
    ...x.allModels.map(
      (s) =>
        `| ${s.model} | ${pct(s.wmape)} | ${s.rmae.toFixed(3)} | ${pct(s.underShare)} | ${pct(s.p90Coverage)} | ` +
        `${
          s.model === "auto"
            ? Object.entries(s.picks)
                .map(([k, v]) => `${k} ${v}`)
                .join(", ")
            : ""
        } |`,
    ),
    "",
  ]),
].join("\n");

await mkdir("docs/benchmarks", { recursive: true });
await writeFile("docs/benchmarks/forecast.json", JSON.stringify(doc, null, 2) + "\n");
await writeFile("docs/benchmarks/forecast.md", md);
process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
