import type { Command } from "commander";
import type { AuditVerifyView } from "../../wire/audit.js";
import { createClient } from "../client.js";
import { printJson, type OutputOptions } from "../output.js";

/** `strata audit verify`: recomputes the audit log's hash chain on the control plane. */
export function registerAuditCommands(program: Command): void {
  const audit =
    program.commands.find((c) => c.name() === "audit") ??
    program.command("audit").description("the control plane's audit log");
  audit
    .command("verify")
    .description("recompute the hash chain; exit 1 and name the first broken entry if it is broken")
    .option("--json", "print one JSON document")
    .action(async (opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const result = await client.get<AuditVerifyView>("/v1/audit/verify");
      if (!result.ok) process.exitCode = 1;
      if (opts.json) return printJson(result);
      if (result.ok) {
        console.log(
          `audit log intact: ${result.entries} entries, head ${result.head ?? "(empty)"}`,
        );
      } else {
        console.log(
          `audit log BROKEN at entry ${result.broken!.id}: ${result.broken!.reason}` +
            ` (${result.entries} entries before it verify)`,
        );
      }
    });
}
