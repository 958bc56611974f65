import { Command } from "commander";
import { registerAgentCommand } from "./commands/agent.js";
import { registerAuditCommands } from "./commands/audit.js";
import { registerBuildCommand } from "./commands/build.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDeployCommands, registerDeploymentsCommand } from "./commands/deploy.js";
import { registerEventCommands } from "./commands/events.js";
import { registerFleetCommands, registerStatusCommand } from "./commands/fleet.js";
import { registerImageCommands } from "./commands/images.js";
import { registerIngestCommand } from "./commands/ingest.js";
import { registerForecastCommands } from "./commands/forecast.js";
import { registerServerCommand } from "./commands/server.js";
import { reportError } from "./output.js";

/** Builds the `strata` command tree. Each command module declares its arguments and calls one function. */
export function buildProgram(): Command {
  const program = new Command("strata")
    .description("Pull deploys, golden images and forecast-driven scaling for web services on VMs")
    .option("--server <url>", "control plane URL (env STRATA_SERVER)")
    .option("--token <token>", "admin token (env STRATA_TOKEN)")
    .option("--data-dir <dir>", "data folder of a local control plane (env STRATA_DATA_DIR)")
    .option("--verbose", "print stack traces on errors")
    .showHelpAfterError()
    .exitOverride();
  registerServerCommand(program);
  registerAgentCommand(program);
  registerFleetCommands(program);
  registerStatusCommand(program);
  registerBuildCommand(program);
  registerDeployCommands(program);
  registerDeploymentsCommand(program);
  registerImageCommands(program);
  registerDemoCommand(program);
  registerForecastCommands(program);
  registerEventCommands(program);
  registerIngestCommand(program);
  registerAuditCommands(program);
  return program;
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (err) {
    return reportError(err, Boolean(program.opts().verbose));
  }
}

process.exitCode = await main(process.argv);
