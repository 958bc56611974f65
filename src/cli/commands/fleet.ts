import type { Command } from "commander";
import type { StatusView } from "../../wire/server.js";
import { createClient } from "../client.js";
import { printJson, table, type OutputOptions } from "../output.js";

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
      const client = await createClient(program.opts());
      const result = await client.post<StatusView & { launched: string[] }>("/v1/fleet/up", {
        group: opts.group,
        count: parseCount(opts.count),
      });
      if (opts.json) return printJson(result);
      console.log(
        `launched ${result.launched.length} server(s): ${result.launched.join(", ") || "none needed"}`,
      );
      console.log(statusTable(result));
    });
  fleet
    .command("down")
    .description("terminate the servers of a group (all groups without --group)")
    .option("--group <group>", "server group")
    .option("--json", "print one JSON document")
    .action(async (opts: { group?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
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
    .option("--group <group>", "only this group")
    .option("--json", "print one JSON document")
    .action(async (opts: { group?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const status = await client.get<StatusView>(
        `/v1/status${opts.group ? `?group=${encodeURIComponent(opts.group)}` : ""}`,
      );
      if (opts.json) return printJson(status);
      for (const g of status.groups) {
        console.log(
          `group ${g.name}: app ${g.app ?? "-"} desired ${g.desired_version ?? "-"} balancer http://${g.balancer ?? "-"}`,
        );
      }
      console.log(statusTable(status));
    });
}

export function statusTable(status: StatusView): string {
  return table(
    ["NAME", "GROUP", "ADDRESS", "STATE", "VERSION", "IN SERVICE", "LAST HEARTBEAT"],
    status.servers.map((s) => [
      s.name,
      s.group,
      s.address,
      s.state,
      s.version,
      s.in_service ? "yes" : "no",
      s.last_heartbeat,
    ]),
  );
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--count: expected a whole number, got "${text}"`);
  return n;
}
