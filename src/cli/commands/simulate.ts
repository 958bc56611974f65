import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { DURATION_HINT, parseDuration } from "../../lib/duration.js";
import { StrataError } from "../../lib/errors.js";
import {
  POLICIES,
  readTrace,
  simulate,
  type PolicyName,
  type SimulationRun,
} from "../../scale/simulate.js";
import { printJson, progress, table } from "../output.js";

interface SimulateFlags {
  input: string;
  timeColumn: string;
  valueColumn: string;
  missingColumn?: string;
  policy: string;
  lag: string;
  peakServers: string;
  minHistory: string;
  json?: boolean;
  csv?: string;
}

/** `strata simulate`: the scaling policies on a real trace, under the contract of docs/scaling.md. */
export function registerSimulateCommand(program: Command): void {
  program
    .command("simulate")
    .description(
      "replay a trace of timestamps and counts through each scaling policy (5-minute steps, " +
        "forecasts at every 00:00, scored from day 29) and report server-hours and overload",
    )
    .requiredOption("--input <file>", "CSV file (plain or gzip)")
    .requiredOption("--time-column <name>", "timestamp column")
    .requiredOption("--value-column <name>", "count column")
    .option("--missing-column <name>", "column whose truthy value marks a row missing")
    .option("--policy <name>", `${POLICIES.join(", ")} or all`, "all")
    .option("--lag <duration>", "service-in lag of a launched server", "10m")
    .option("--peak-servers <n>", "servers the trace's peak needs at utilisation 0.7", "40")
    .option("--min-history <duration>", "history before the first evaluated day", "28d")
    .option("--json", "print one JSON document on stdout")
    .option("--csv <file>", "write per-step demand, need and each policy's servers")
    .action(async (flags: SimulateFlags) => {
      const policies = flags.policy === "all" ? [...POLICIES] : [checkPolicy(flags.policy)];
      const peakServers = Number(flags.peakServers);
      if (!Number.isInteger(peakServers) || peakServers < 1)
        throw new StrataError(
          "bad_request",
          `[simulate] --peak-servers: expected a whole number >= 1, got "${flags.peakServers}"`,
        );
      const lagMs = durationFlag("--lag", flags.lag);
      const minHistoryMs = durationFlag("--min-history", flags.minHistory);
      const trace = await readTrace(flags.input, {
        timeColumn: flags.timeColumn,
        valueColumn: flags.valueColumn,
        ...(flags.missingColumn ? { missingColumn: flags.missingColumn } : {}),
      });
      const run = await simulate(trace, {
        policies,
        lagMs,
        peakServers,
        minHistoryMs,
        keepSteps: Boolean(flags.csv),
        onProgress: progress,
      });
      if (flags.csv) await writeFile(flags.csv, stepsCsv(run));
      if (flags.json) printJson(run.report);
      else process.stdout.write(renderSimulation(run) + "\n");
    });
}

function checkPolicy(name: string): PolicyName {
  if (!(POLICIES as readonly string[]).includes(name))
    throw new StrataError(
      "bad_request",
      `[simulate] --policy: unknown policy "${name}" (known: ${POLICIES.join(", ")}, all)`,
    );
  return name as PolicyName;
}

function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms < 0)
    throw new StrataError(
      "bad_request",
      `[simulate] ${flag}: expected ${DURATION_HINT}, got "${text}"`,
    );
  return ms;
}

export function renderSimulation(run: SimulationRun): string {
  const r = run.report;
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  return [
    `${r.trace}: ${fmt(r.evaluated_minutes)} minutes evaluated from ${new Date(run.evaluation.from).toISOString().slice(0, 10)}, ` +
      `lag ${r.lag_minutes} min, capacity ${run.capacity.toPrecision(3)} req/s per server (peak = ${r.peak_servers} at 0.7)`,
    "",
    table(
      ["policy", "server-hours", "under server-min", "overload min", "actions"],
      r.policies.map((p) => [
        p.policy,
        fmt(p.server_hours),
        fmt(p.under_server_minutes),
        fmt(p.overload_minutes),
        p.actions,
      ]),
    ),
  ].join("\n");
}

/** One row per step: time, demand (req/s), needed, missing, then in-service and billed per policy. */
export function stepsCsv(run: SimulationRun): string {
  const s = run.steps;
  if (!s) return "";
  const names = run.report.policies.map((p) => p.policy);
  const lines = [
    [
      "time",
      "demand",
      "needed",
      "missing",
      ...names.flatMap((n) => [`${n}_in_service`, `${n}_billed`]),
    ].join(","),
  ];
  for (let i = 0; i < s.at.length; i++) {
    lines.push(
      [
        new Date(s.at[i] as number).toISOString().slice(0, 19),
        (s.demand[i] as number).toFixed(3),
        s.needed[i],
        s.missing[i] ? 1 : 0,
        ...names.flatMap((n) => [s.inService[n]?.[i], s.billed[n]?.[i]]),
      ].join(","),
    );
  }
  return lines.join("\n") + "\n";
}
