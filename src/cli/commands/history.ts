import type { Command } from "commander";
import type { AuditEntryView, AuditView } from "../../wire/audit.js";
import type { Release } from "../../wire/release.js";
import type { StatusView } from "../../wire/server.js";
import type { TrafficSeries } from "../../wire/traffic.js";
import { createClient } from "../client.js";
import { durationFlag, wholeNumber } from "../flags.js";
import { printJson, table, type OutputOptions } from "../output.js";
import { formatBytes } from "./build.js";

/** `strata releases`, `strata audit` and `strata traffic show`: what happened, from the API. */
export function registerHistoryCommands(program: Command): void {
  program
    .command("releases")
    .description("built releases, newest first, with the groups that want each")
    .option("--app <app>", "only this app")
    .option("--json", "print one JSON document")
    .action(async (opts: { app?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const query = opts.app ? `?app=${encodeURIComponent(opts.app)}` : "";
      const { releases } = await client.get<{ releases: Release[] }>(`/v1/releases${query}`);
      const { groups, servers } = await client.get<StatusView>("/v1/status");
      const view = releases.map((r) => ({
        ...r,
        desired_by: groups.filter((g) => g.desired_release === r.id).map((g) => g.name),
        running_on: servers.filter((s) => s.release === r.id).map((s) => s.name),
      }));
      if (opts.json) return printJson({ releases: view });
      console.log(
        table(
          ["APP", "VERSION", "ID", "SIZE", "FILES", "CREATED", "DESIRED BY", "RUNNING ON"],
          view.map((r) => [
            r.app,
            r.version,
            r.id.slice(0, 19),
            formatBytes(r.size),
            r.file_count,
            r.created_at,
            r.desired_by.join(",") || null,
            r.running_on.length > 0 ? `${r.running_on.length} server(s)` : null,
          ]),
        ),
      );
    });

  program
    .command("audit")
    .description("the append-only audit log: list (the default), verify")
    .command("list", { isDefault: true })
    .description("the append-only audit log, newest first")
    .option("--since <duration>", "only entries this recent: 10m, 6h, 7d")
    .option("--actor <actor>", "only entries by this actor")
    .option("--subject <subject>", "only entries about this subject (hello/web, web, an image id)")
    .option("--limit <n>", "newest entries read from the log", "200")
    .option("--json", "print one JSON document")
    .action(
      async (
        opts: { since?: string; actor?: string; subject?: string; limit: string } & OutputOptions,
      ) => {
        const since = opts.since ? Date.now() - durationFlag("--since", opts.since) : null;
        const limit = wholeNumber("--limit", opts.limit);
        const client = await createClient(program.opts());
        const query = new URLSearchParams({ limit: String(limit) });
        if (opts.subject) query.set("subject", opts.subject);
        const { entries } = await client.get<AuditView>(`/v1/audit?${query}`);
        const shown = entries.filter(
          (e) =>
            (since === null || Date.parse(e.at) >= since) &&
            (!opts.actor || e.actor === opts.actor),
        );
        if (opts.json) return printJson({ entries: shown });
        console.log(auditTable(shown));
        if (entries.length === limit && (since === null || Date.parse(entries.at(-1)!.at) >= since))
          console.error(`(the newest ${limit} entries were read: --limit N for more)`);
      },
    );

  const traffic = program.command("traffic").description("an app's stored request counts");
  traffic
    .command("show")
    .description("requests per minute (or per hour) with status classes, as stored for forecasts")
    .requiredOption("--app <app>", "app name")
    .option("--since <duration>", "how far back: 30m, 6h, 7d", "1h")
    .option("--step <step>", "minute or hour (default: minute up to 6h back, else hour)")
    .option("--json", "print one JSON document")
    .action(async (opts: { app: string; since: string; step?: string } & OutputOptions) => {
      const span = durationFlag("--since", opts.since);
      const step = opts.step ?? (span <= 6 * 3_600_000 ? "minute" : "hour");
      const to = Date.now();
      const from = step === "hour" ? Math.floor((to - span) / 3_600_000) * 3_600_000 : to - span;
      const client = await createClient(program.opts());
      const query = new URLSearchParams({
        step,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
      });
      const series = await client.get<TrafficSeries>(
        `/v1/apps/${encodeURIComponent(opts.app)}/traffic?${query}`,
      );
      if (opts.json) return printJson(series);
      console.log(trafficText(series));
    });
}

export function auditTable(entries: AuditEntryView[]): string {
  if (entries.length === 0) return "no audit entries";
  return table(
    ["AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL"],
    entries.map((e) => [e.at, e.actor, e.action, e.subject, detailText(e.detail)]),
  );
}

function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
}

export function trafficText(series: TrafficSeries): string {
  const total = series.points.reduce((sum, p) => sum + p.total, 0);
  const errors = series.points.reduce((sum, p) => sum + p.s5xx, 0);
  const head = `${series.app}: ${total.toLocaleString("en-US")} requests from ${series.from} to ${series.to} (per ${series.step}), ${total ? ((100 * errors) / total).toFixed(2) : "0.00"}% 5xx`;
  if (series.points.length === 0) return `${head}\nno traffic stored in this window`;
  const hour = series.step === "hour";
  return [
    head,
    table(
      ["TIME (UTC)", "TOTAL", "2XX", "3XX", "4XX", "5XX", ...(hour ? ["MINUTES"] : [])],
      series.points.map((p) => [
        p.time.slice(0, 16).replace("T", " "),
        p.total,
        p.s2xx,
        p.s3xx,
        p.s4xx,
        p.s5xx,
        ...(hour ? [p.minutes ?? null] : []),
      ]),
    ),
  ].join("\n");
}
