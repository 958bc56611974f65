/**
 * The scaling simulation contract (docs/scaling.md) on every trace of ../shared/data, for
 * service-in lags of 3, 10 and 20 minutes, with the time each simulation takes; the choice
 * of the `strata` defaults (a small grid on all four web/social traces, not one); and a
 * 10,000-server fleet over 60 days of 1-minute decisions (planner + executor + simulated fleet).
 * Usage: npx tsx bench/scale-simulation.bench.ts [--data ../shared/data] [--quick]
 * Writes docs/benchmarks/scale-simulation.{json,md}; prints the JSON.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createScaleExecutor, type ScaleSettings } from "../src/scale/executor.js";
import { learnPeakRatios } from "../src/scale/planner.js";
import { DEFAULT_SCALING } from "../src/scale/scale-config.js";
import { createSimClock, createSimulatedFleet } from "../src/scale/sim-fleet.js";
import {
  forecastDaily,
  forecastOrigins,
  readTrace,
  simulate,
  type PolicyResult,
  type SimulationRun,
} from "../src/scale/simulate.js";
import type { CountsCsvOptions } from "../src/traffic/counts/counts-reader.js";
import { machineInfo, markdownTable, round, writeReport } from "./lib/report.js";

const { values } = parseArgs({
  options: {
    data: { type: "string", default: "../shared/data" },
    quick: { type: "boolean", default: false },
  },
});
const COMMAND = `npx tsx bench/scale-simulation.bench.ts${values.quick ? " --quick" : ""}`;
const DAY = 86_400_000;
const M = 60_000;

interface TraceSpec {
  name: string;
  file: string;
  columns: CountsCsvOptions;
  minHistoryDays: number;
  /** The targets bind on these; the others are reported beside them. */
  target: boolean;
}

const TRACES: TraceSpec[] = [
  {
    name: "NASA",
    file: "nasa_traffic_5m.csv",
    columns: { timeColumn: "timestamp", valueColumn: "request_count", missingColumn: "is_outage" },
    minHistoryDays: 28,
    target: true,
  },
  {
    name: "World Cup 98",
    file: "worldcup98_1m.csv",
    columns: { timeColumn: "period", valueColumn: "count" },
    minHistoryDays: 28,
    target: true,
  },
  {
    name: "Twitter GOOG",
    file: "Twitter_volume_GOOG.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistoryDays: 28,
    target: false,
  },
  {
    name: "Twitter FB",
    file: "Twitter_volume_FB.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistoryDays: 28,
    target: false,
  },
  {
    name: "EC2 CPU",
    file: "ec2_cpu_utilization_24ae8d.csv",
    columns: { timeColumn: "timestamp", valueColumn: "value" },
    minHistoryDays: 7,
    target: false,
  },
];
const LAGS = values.quick ? [10] : [3, 10, 20];
/** The literal planner rule, for comparison: ceil(p90 / (C x 0.7)). */
const P90_RULE: Partial<ScaleSettings> = { meanUtilisation: null, p90Utilisation: 0.7 };

interface TraceResult {
  trace: string;
  evaluated_minutes: number;
  capacity_rps: number;
  forecast_seconds: number;
  lags: {
    lag_minutes: number;
    policies: (Omit<PolicyResult, "policy"> & { policy: string })[];
    seconds: Record<string, number>;
  }[];
  targets: { overload_ok: boolean; share_ok: boolean; hours_ok: boolean } | null;
}

async function traces(): Promise<{ results: TraceResult[]; grid: GridRow[] }> {
  const results: TraceResult[] = [];
  const grid: GridRow[] = [];
  for (const spec of TRACES) {
    const trace = await readTrace(join(values.data, spec.file), spec.columns);
    const minHistoryMs = spec.minHistoryDays * DAY;
    const t0 = performance.now();
    const daily = forecastDaily(trace, forecastOrigins(trace, minHistoryMs));
    const forecastSeconds = (performance.now() - t0) / 1000;
    const result: TraceResult = {
      trace: spec.name,
      evaluated_minutes: 0,
      capacity_rps: 0,
      forecast_seconds: round(forecastSeconds, 2),
      lags: [],
      targets: null,
    };
    for (const lag of LAGS) {
      const run = await simulate(trace, { lagMs: lag * M, minHistoryMs, daily });
      const literal = await simulate(trace, {
        lagMs: lag * M,
        minHistoryMs,
        daily,
        policies: ["strata"],
        strata: P90_RULE,
      });
      result.evaluated_minutes = run.report.evaluated_minutes;
      result.capacity_rps = Number(run.capacity.toPrecision(4));
      result.lags.push({
        lag_minutes: lag,
        policies: [
          ...run.report.policies,
          { ...(literal.report.policies[0] as PolicyResult), policy: "strata (p90 rule)" },
        ],
        seconds: Object.fromEntries(
          Object.entries(run.seconds.policies).map(([k, v]) => [k, round(v, 3)]),
        ),
      });
      if (lag === 10) result.targets = targets(run);
      console.error(`${spec.name} lag ${lag}: done`);
    }
    if (spec.target || spec.name.startsWith("Twitter"))
      grid.push(...(await tuningGrid(spec.name, trace, daily)));
    results.push(result);
  }
  return { results, grid };
}

function targets(run: SimulationRun) {
  const p = Object.fromEntries(run.report.policies.map((x) => [x.policy, x]));
  const s = p.strata as PolicyResult;
  const best = Math.min(
    ...["reactive", "forecast", "forecast-p90"].map((k) => (p[k] as PolicyResult).overload_minutes),
  );
  return {
    overload_ok: s.overload_minutes <= best,
    share_ok: s.overload_minutes <= 0.005 * run.report.evaluated_minutes,
    hours_ok: s.server_hours <= 1.25 * (p.oracle as PolicyResult).server_hours,
  };
}

interface GridRow {
  trace: string;
  setting: string;
  overload_minutes: number;
  server_hours_vs_oracle: number;
}

/** The strata policy under each candidate default, lag 10: how the defaults were chosen. */
async function tuningGrid(
  name: string,
  trace: Awaited<ReturnType<typeof readTrace>>,
  daily: Awaited<ReturnType<typeof forecastDaily>>,
): Promise<GridRow[]> {
  const oracle = (await simulate(trace, { policies: ["oracle"] })).report
    .policies[0] as PolicyResult;
  const candidates: { setting: string; strata: Partial<ScaleSettings>; peakQuantile?: number }[] = [
    { setting: "default (mean at 0.7, peak ratio q0.5, stabilisation 10m)", strata: {} },
    { setting: "peak ratio q0.75", strata: {}, peakQuantile: 0.75 },
    { setting: "no peak ratio", strata: {}, peakQuantile: 0 },
    { setting: "p90 at 0.9 as well", strata: { p90Utilisation: 0.9 } },
    { setting: "p90 at 1.0 as well", strata: { p90Utilisation: 1 } },
    { setting: "p90 rule (p90 at 0.7 alone)", strata: P90_RULE },
    { setting: "stabilisation 5m", strata: { stabilisationMs: 5 * M } },
    { setting: "stabilisation 15m", strata: { stabilisationMs: 15 * M } },
  ];
  const rows: GridRow[] = [];
  for (const c of candidates) {
    const r = (
      await simulate(trace, {
        policies: ["strata"],
        daily,
        strata: c.strata,
        ...(c.peakQuantile !== undefined ? { peakQuantile: c.peakQuantile } : {}),
      })
    ).report.policies[0] as PolicyResult;
    rows.push({
      trace: name,
      setting: c.setting,
      overload_minutes: r.overload_minutes,
      server_hours_vs_oracle: round(r.server_hours / oracle.server_hours, 3),
    });
  }
  return rows;
}

/**
 * 60 days of 1-minute decisions for a fleet whose peak needs 10,000 servers: synthetic demand
 * (daily and weekly cycles, noise), an hourly forecast of its true hourly means, peak ratios
 * learned daily from the minutes, lag 10 min. Times the loop: planner + executor + fleet.
 */
async function largeFleet() {
  const minutes = 60 * 1440;
  const capacity = 10;
  const peakServers = 10_000;
  const start = Date.UTC(2026, 0, 5);
  let seed = 42;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.1;
  const shape = new Float64Array(minutes);
  for (let i = 0; i < minutes; i++) {
    const day = (i / 1440) % 7;
    const hour = (i % 1440) / 60;
    const daily = 0.55 + 0.45 * Math.sin(((hour - 8) / 24) * 2 * Math.PI);
    shape[i] = daily * (day >= 5 ? 0.7 : 1) * (1 + noise());
  }
  const peak = Math.max(...shape);
  const rate = shape.map((x) => (x / peak) * peakServers * capacity * 0.7);
  const counts = rate.map((r) => r * 60);
  const hours = minutes / 60;
  const mean = new Float64Array(hours);
  for (let h = 0; h < hours; h++) for (let k = 0; k < 60; k++) mean[h]! += counts[h * 60 + k]!;
  const clock = createSimClock(start);
  const fleet = createSimulatedFleet({
    clock,
    lagMs: 10 * M,
    initial: Math.ceil(rate[0]! / (capacity * 0.7)),
  });
  let ratios: { day: number; values: number[] } | null = null;
  const series = { start, stepMs: M, counts };
  const executor = createScaleExecutor({
    group: "large",
    settings: {
      ...DEFAULT_SCALING,
      mode: "on",
      capacityPerServer: capacity,
      min: 1,
      max: 20_000,
      guard: { ...DEFAULT_SCALING.guard, windowMs: M },
      intervalMs: M,
    },
    clock,
    port: fleet,
    inputs: {
      forecast: async () => ({ start, stepMs: 3_600_000, mean, p90: mean }),
      peakRatios: async (now) => {
        const day = Math.floor(now / DAY);
        if (ratios?.day !== day)
          ratios = { day, values: learnPeakRatios(series, { from: now - 14 * DAY, to: now }) };
        return ratios.values;
      },
      observedRate: async (now) => {
        const i = Math.round((now - start) / M) - 1;
        return i >= 0 ? rate[i]! : null;
      },
      launchLags: async () => fleet.lags(),
      deploymentRunning: async () => false,
    },
  });
  const t0 = performance.now();
  let billed = 0;
  let overload = 0;
  let actions = 0;
  let most = 0;
  for (let i = 0; i < minutes; i++) {
    const t = start + i * M;
    clock.set(t);
    fleet.advance(t);
    if ((await executor.tick()).acted) actions++;
    const serving = fleet.inServiceAt(t);
    billed += fleet.alive();
    most = Math.max(most, fleet.alive());
    if (rate[i]! > serving * capacity) overload++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    minutes,
    peak_servers_needed: peakServers,
    most_servers: most,
    server_hours: Math.round(billed / 60),
    overload_minutes: overload,
    actions,
    seconds: round(seconds, 2),
    decisions_per_second: Math.round(minutes / seconds),
  };
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");

async function main() {
  const { results, grid } = await traces();
  const large = await largeFleet();
  const sections: string[] = [];
  for (const r of results) {
    const policies = r.lags[0]!.policies.map((p) => p.policy);
    sections.push(
      `### ${r.trace}: ${fmt(r.evaluated_minutes)} minutes evaluated, C = ${r.capacity_rps} req/s per server`,
      "",
      "Overload minutes / server-hours (actions) per service-in lag.",
      "",
      markdownTable(
        ["policy", ...r.lags.map((l) => `lag ${l.lag_minutes} min`)],
        policies.map((name) => [
          name,
          ...r.lags.map((l) => {
            const p = l.policies.find((x) => x.policy === name)!;
            return `${fmt(p.overload_minutes)} / ${fmt(p.server_hours)} (${p.actions})`;
          }),
        ]),
      ),
      "",
      r.targets
        ? `Targets at lag 10: overload <= best of reactive/forecast/forecast-p90 ${r.targets.overload_ok ? "met" : "**missed**"}; ` +
            `<= 0.5% of evaluated minutes ${r.targets.share_ok ? "met" : "**missed**"}; ` +
            `server-hours <= 1.25 x oracle ${r.targets.hours_ok ? "met" : "**missed**"}.`
        : "",
      "",
    );
  }
  const timing = markdownTable(
    ["trace", "forecasts (s)", ...Object.keys(results[0]!.lags[0]!.seconds).map((k) => `${k} (s)`)],
    results.map((r) => {
      const l = r.lags.find((x) => x.lag_minutes === 10) ?? r.lags[0]!;
      return [r.trace, r.forecast_seconds, ...Object.values(l.seconds)];
    }),
  );
  const gridTable = markdownTable(
    ["trace", "strata setting (lag 10)", "overload min", "server-hours / oracle"],
    grid.map((g) => [g.trace, g.setting, g.overload_minutes, g.server_hours_vs_oracle]),
  );
  const markdown = [
    "The contract of docs/scaling.md: 5-minute steps, C = peak / (40 x 0.7), a launch billed at once",
    "and serving one lag later, a forecast at every 00:00 (the project's `auto` forecaster, 48 h from",
    "at most 8 weeks before it), scored from day 29 (EC2 CPU: day 8, it has 14 days). `strata` is the",
    "executor with the shipped defaults; `strata (p90 rule)` the issue's literal rule",
    "ceil(p90 / (C x 0.7)) with everything else equal.",
    "",
    ...sections,
    "## Time per simulation (lag 10)",
    "",
    "Forecasts are made once per trace and shared by the policies and lags.",
    "",
    timing,
    "",
    "## How the defaults were chosen",
    "",
    "Every candidate on the two target traces and both Twitter traces (never on one trace alone):",
    "",
    gridTable,
    "",
    "## 10,000 servers, 60 days of minutes",
    "",
    `${fmt(large.minutes)} decisions of the real executor (planner, guard, stabilisation, lead time) on a simulated fleet whose peak needs ` +
      `${fmt(large.peak_servers_needed)} servers: ${large.seconds} s (${fmt(large.decisions_per_second)} decisions/s); ` +
      `at most ${fmt(large.most_servers)} servers, ${fmt(large.server_hours)} server-hours, ${large.overload_minutes} overload minutes, ${fmt(large.actions)} actions.`,
  ].join("\n");
  const paths = await writeReport({
    name: "scale-simulation",
    command: COMMAND,
    machine: machineInfo(),
    results: { traces: results, grid, large_fleet: large },
    title: "Scaling simulation: policies on real traces",
    markdown,
  });
  console.error(`wrote ${paths.join(", ")}`);
  console.log(JSON.stringify({ traces: results, grid, large_fleet: large }, null, 2));
}

await main();
