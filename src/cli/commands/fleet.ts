import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { StatusView } from "../../wire/server.js";
import { createClient } from "../client.js";
import { formatBytes } from "./build.js";
import { wholeNumber } from "../flags.js";
import { confirm, printJson, table, type OutputOptions } from "../output.js";

export function registerFleetCommands(program: Command): void {
  const fleet = program
    .command("fleet")
    .description("launch and stop servers through the provider");
  fleet
    .command("up")
    .description("ensure the group has at least COUNT servers")
    .requiredOption("--group <group>", "server group")
    .option("--count <n>", "servers wanted", "1")
    .option("--json", "print one JSON document")
    .action(async (opts: { group: string; count: string } & OutputOptions) => {
      const count = wholeNumber("--count", opts.count);
      const client = await createClient(program.opts());
      const result = await client.post<StatusView & { launched: string[] }>("/v1/fleet/up", {
        group: opts.group,
        count,
      });
      if (opts.json) return printJson(result);
      console.log(
        `launched ${result.launched.length} server(s): ${result.launched.join(", ") || "none needed"}`,
      );
      console.log(statusTable(result));
    });
  fleet
    .command("down")
    .description(
      "terminate the servers of a group (all groups without --group, after a confirmation)",
    )
    .option("--group <group>", "server group")
    .option("--yes", "terminate every group's servers without asking")
    .option("--json", "print one JSON document")
    .action(async (opts: { group?: string; yes?: boolean } & OutputOptions) => {
      const client = await createClient(program.opts());
      if (!opts.group) {
        const { servers } = await client.get<StatusView>("/v1/status");
        const question = `fleet down: terminate all ${servers.length} server(s) of every group?`;
        if (servers.length > 0 && !(await confirm(question, opts))) return;
      }
      const result = await client.post<{ terminated: string[] }>(
        "/v1/fleet/down",
        opts.group ? { group: opts.group } : { all: true },
      );
      if (opts.json) return printJson(result);
      console.log(`terminated ${result.terminated.length} server(s)`);
    });
}

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .description("groups, servers, releases and service state")
    .option("--group <group>", "only this group (exit 2 when it does not exist)")
    .option("--json", "print one JSON document")
    .action(async (opts: { group?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const status = await client.get<StatusView>(
        `/v1/status${opts.group ? `?group=${encodeURIComponent(opts.group)}` : ""}`,
      );
      if (opts.group && status.groups.length === 0) {
        const { groups } = await client.get<StatusView>("/v1/status");
        const known = groups.map((g) => g.name).join(", ") || "none yet";
        throw new StrataError(
          "not_found",
          `[cli] status: group "${opts.group}" does not exist (groups: ${known})`,
        );
      }
      status.servers.sort((a, b) => naturalCompare(a.name, b.name));
      if (opts.json) return printJson(status);
      for (const g of status.groups) {
        console.log(
          `group ${g.name}: app ${g.app ?? "-"} desired ${g.desired_version ?? "-"} balancer http://${g.balancer ?? "-"}`,
        );
      }
      console.log(statusTable(status));
    });
}

export function statusTable(status: StatusView, now = Date.now()): string {
  const servers = [...status.servers].sort((a, b) => naturalCompare(a.name, b.name));
  return table(
    ["NAME", "GROUP", "ADDRESS", "STATE", "VERSION", "IN SERVICE", "STORE", "HEARTBEAT"],
    servers.map((s) => [
      s.name,
      s.group,
      s.address,
      s.state,
      s.version,
      s.in_service ? "yes" : "no",
      s.store_bytes ? formatBytes(s.store_bytes) : null,
      s.last_heartbeat ? `${age(now - Date.parse(s.last_heartbeat))} ago` : null,
    ]),
  );
}

/** `web-6` before `web-10`. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

/** `800ms`, `12s`, `5m`, `3h`, `2d`: the largest unit that fits, as in the duration grammar. */
export function age(ms: number): string {
  const t = Math.max(0, ms);
  if (t < 1000) return `${Math.round(t)}ms`;
  if (t < 60_000) return `${Math.floor(t / 1000)}s`;
  if (t < 3_600_000) return `${Math.floor(t / 60_000)}m`;
  if (t < 86_400_000) return `${Math.floor(t / 3_600_000)}h`;
  return `${Math.floor(t / 86_400_000)}d`;
}
