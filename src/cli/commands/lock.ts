import type { Command } from "commander";
import type { GroupLock, LockStatusView } from "../../wire/lock.js";
import { createClient } from "../client.js";
import { printJson, type OutputOptions } from "../output.js";

/** `strata lock acquire|release|status`: a maintenance window in which deployments are refused. */
export function registerLockCommands(program: Command): void {
  const lock = program
    .command("lock")
    .description("maintenance windows: while a group is locked, deployments to it are refused");
  const path = (group: string) => `/v1/groups/${encodeURIComponent(group)}/lock`;

  lock
    .command("acquire")
    .description("lock the group (exit 1 if it is locked already)")
    .requiredOption("--group <group>", "server group")
    .requiredOption("--message <text>", "why, shown to whoever tries to deploy")
    .option("--json", "print the lock as one JSON document")
    .action(async (opts: { group: string; message: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const held = await client.post<GroupLock>(path(opts.group), { message: opts.message });
      if (opts.json) printJson(held);
      else console.log(`locked ${held.group} since ${held.since}: ${held.message}`);
    });

  lock
    .command("release")
    .description("unlock the group (exit 2 if it is not locked)")
    .requiredOption("--group <group>", "server group")
    .option("--json", "print one JSON document")
    .action(async (opts: { group: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.request<LockStatusView>("DELETE", path(opts.group));
      if (opts.json) printJson(view);
      else console.log(`unlocked ${view.group}`);
    });

  lock
    .command("status")
    .description("whether the group is locked, since when and why")
    .requiredOption("--group <group>", "server group")
    .option("--json", "print one JSON document")
    .action(async (opts: { group: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<LockStatusView>(path(opts.group));
      if (opts.json) return printJson(view);
      console.log(
        view.lock
          ? `${view.group}: locked since ${view.lock.since}: ${view.lock.message}`
          : `${view.group}: not locked`,
      );
    });
}
