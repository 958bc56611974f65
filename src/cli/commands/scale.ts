import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { DecisionView, LeadTimeView, PlanView, ScaleStatusView } from "../../wire/scale.js";
import { createClient } from "../client.js";
import { printJson, table } from "../output.js";

interface GroupFlags {
  group: string;
  json?: boolean;
}

/** `strata scale plan|status|set`: the planned scaling of a group, through the HTTP API. */
export function registerScaleCommands(program: Command): void {
  const scale = program
    .command("scale")
    .description("planned scaling of a group ahead of its forecast");
  scale
    .command("plan")
    .description(
      "next 24 h per hour: forecast mean and p90, servers planned, when each launch starts and why",
    )
    .requiredOption("--group <name>", "group")
    .option("--json", "print one JSON document on stdout")
    .action(async (flags: GroupFlags) => {
      const client = await createClient(program.opts());
      const view = await client.get<PlanView>(`/v1/scale/${encodeURIComponent(flags.group)}/plan`);
      if (flags.json) printJson(view);
      else process.stdout.write(renderPlan(view) + "\n");
    });
  scale
    .command("status")
    .description(
      "in service, launching, draining; mode; lead time; the last actions with their reasons",
    )
    .requiredOption("--group <name>", "group")
    .option("--json", "print one JSON document on stdout")
    .action(async (flags: GroupFlags) => {
      const client = await createClient(program.opts());
      const view = await client.get<ScaleStatusView>(
        `/v1/scale/${encodeURIComponent(flags.group)}/status`,
      );
      if (flags.json) printJson(view);
      else process.stdout.write(renderStatus(view) + "\n");
    });
  scale
    .command("set")
    .description(
      "switch a group's scaling mode: off, forecast-only (decide and record) or on (act)",
    )
    .requiredOption("--group <name>", "group")
    .requiredOption("--mode <mode>", "off | forecast-only | on")
    .option("--json", "print one JSON document on stdout")
    .action(async (flags: GroupFlags & { mode: string }) => {
      if (!["off", "forecast-only", "on"].includes(flags.mode))
        throw new StrataError(
          "bad_request",
          `[scale] --mode: expected off, forecast-only or on, got "${flags.mode}"`,
        );
      const client = await createClient(program.opts());
      const view = await client.request<ScaleStatusView>(
        "PUT",
        `/v1/scale/${encodeURIComponent(flags.group)}/mode`,
        { mode: flags.mode },
      );
      if (flags.json) printJson(view);
      else process.stdout.write(renderStatus(view) + "\n");
    });
}

const lead = (l: LeadTimeView | null) =>
  l
    ? `${l.seconds} s (${l.source}${l.source === "measured" ? ` from ${l.samples} launches` : ""})`
    : "-";
const hhmm = (iso: string) => iso.slice(11, 16);

export function renderPlan(v: PlanView): string {
  const head = `${v.group}: mode ${v.mode}, lead time ${lead(v.lead_time)}, min ${v.min}, max ${v.max}`;
  if (!v.forecast)
    return `${head}\nno forecast for the group's app yet: the plan is the minimum (${v.min})`;
  return [
    head,
    "",
    table(
      ["hour (UTC)", "mean req/s", "p90 req/s", "peak x", "servers", "launch by", "why"],
      v.steps.map((s) => [
        s.time.slice(0, 16).replace("T", " "),
        s.mean_rate.toFixed(1),
        s.p90_rate.toFixed(1),
        s.peak_ratio.toFixed(2),
        s.servers,
        hhmm(s.launch_by),
        s.reason,
      ]),
    ),
  ].join("\n");
}

const line = (d: DecisionView) =>
  `${d.at.slice(0, 19).replace("T", " ")}  ${d.action} ${d.count}${d.acted ? "" : " (not acted)"}  ${d.reason}${d.error ? `  ERROR ${d.error}` : ""}`;

export function renderStatus(v: ScaleStatusView): string {
  return [
    `${v.group}: mode ${v.mode}; ${v.in_service} in service, ${v.launching} launching, ${v.away} away, ${v.draining} draining; lead time ${lead(v.lead_time)}`,
    ...(v.last ? [`last decision: ${line(v.last)}`] : []),
    ...(v.last_error ? [`last error: ${v.last_error}`] : []),
    v.forecaster
      ? `forecaster: ${v.forecaster.model}, day-ahead wMAPE ${(v.forecaster.wmape * 100).toFixed(1)}%, p90 covers ${(v.forecaster.p90_coverage * 100).toFixed(0)}% (${v.forecaster.days} days backtested)`
      : "forecaster: no backtest yet (needs 8 days of traffic)",
    ...(v.recent.length ? ["", "recent actions:", ...v.recent.map(line)] : []),
  ].join("\n");
}
