import { Command } from "commander";
import { registerAgentCommand } from "../cli/commands/agent.js";
import { reportError } from "../cli/output.js";

/**
 * The agent on its own, without the rest of the CLI: the local provider
 * bundles this file once per control-plane start, so a new server's agent
 * starts in a fraction of the time `strata agent` takes under tsx. Takes the
 * same flags as `strata agent`.
 */
const program = new Command("strata-agent")
  .option("--server <url>", "control plane URL (env STRATA_SERVER)")
  .option("--verbose", "print stack traces on errors")
  .exitOverride();
registerAgentCommand(program);
try {
  await program.parseAsync([process.argv[0]!, "strata-agent", "agent", ...process.argv.slice(2)]);
} catch (err) {
  process.exitCode = reportError(err, Boolean(program.opts().verbose));
}
