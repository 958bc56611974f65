import { VERSION } from "../lib/version.js";
import { Command, Help, Option } from "commander";
import { registerAgentCommand } from "./commands/agent.js";
import { registerAppCommands } from "./commands/app.js";
import { registerCheckCommand } from "./commands/check.js";
import { registerSecretsCommands } from "./commands/secrets.js";
import { registerAgentInstallCommand } from "./commands/agent-install.js";
import { registerLayReleaseCommand } from "./commands/lay-release.js";
import { registerAuditCommands } from "./commands/audit.js";
import { registerBuildCommand } from "./commands/build.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { registerDashboardCommand } from "./commands/dashboard.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDeployCommands, registerDeploymentsCommand } from "./commands/deploy.js";
import { registerEventCommands } from "./commands/events.js";
import { registerFleetCommands, registerStatusCommand } from "./commands/fleet.js";
import { registerHistoryCommands } from "./commands/history.js";
import { registerImageCommands } from "./commands/images.js";
import { registerIngestCommand } from "./commands/ingest.js";
import { registerInitCommands } from "./commands/init.js";
import { registerLockCommands } from "./commands/lock.js";
import { registerOpsCommands } from "./commands/ops.js";
import { registerForecastCommands } from "./commands/forecast.js";
import { registerScaleCommands } from "./commands/scale.js";
import { registerServerCommand } from "./commands/server.js";
import { registerSimulateCommand } from "./commands/simulate.js";
import { registerTokensCommand } from "./commands/tokens.js";
import { reportError } from "./output.js";

export { VERSION };

/**
 * commander's Command with strata's parsing rules for the whole tree:
 * an unknown option is named before a missing required option (`--grup web`
 * says `unknown option '--grup' (Did you mean --group?)`, not `required option
 * '--group' not specified`).
 */
export class StrataCommand extends Command {
  override createCommand(name?: string): StrataCommand {
    return new StrataCommand(name);
  }

  /** Called by commander for a missing required option; commander checks unknown options only later. */
  missingMandatoryOptionValue(option: Option): void {
    const unknown = this.args.find((arg) => /^--?[A-Za-z]/.test(arg) && !this.#known(arg));
    if (unknown) this.unknownOption(unknown.split("=")[0]!);
    this.error(`error: required option '${option.flags}' not specified`, {
      code: "commander.missingMandatoryOptionValue",
    });
  }

  /** Known to this command, an ancestor, or the subcommand this command dispatches to (`agent ... install`). */
  #known(arg: string): boolean {
    const flag = arg.split("=")[0]!;
    const has = (cmd: Command) => cmd.options.some((o) => o.long === flag || o.short === flag);
    const up = (cmd: Command | null): boolean => cmd !== null && (has(cmd) || up(cmd.parent));
    const down = (cmd: Command, words: string[]): boolean => {
      const at = words.findIndex((w) => cmd.commands.some((c) => c.name() === w));
      if (at < 0) return false;
      const sub = cmd.commands.find((c) => c.name() === words[at])!;
      return has(sub) || down(sub, words.slice(at + 1));
    };
    return up(this) || down(this, this.args);
  }

  // Declared by commander at run time but not in its typings.
  declare unknownOption: (flag: string) => never;
}

/** Builds the `strata` command tree. Each command module declares its arguments and calls one function. */
export function buildProgram(): Command {
  const program = new StrataCommand("strata")
    .description("Pull deploys, golden images and forecast-driven scaling for web services on VMs")
    .configureHelp({
      showGlobalOptions: true,
      // `--version` is handled before parsing (see runCli), so it is listed here by hand.
      visibleOptions(this: Help, cmd) {
        const options = Help.prototype.visibleOptions.call(this, cmd);
        return cmd.parent ? options : [VERSION_OPTION, ...options];
      },
      // Only the root's options are global: no other command has both options and subcommands.
      visibleGlobalOptions(this: Help, cmd) {
        let root = cmd;
        while (root.parent) root = root.parent;
        return Help.prototype.visibleGlobalOptions
          .call(this, cmd)
          .filter((o) => root.options.includes(o));
      },
    })
    .option("--server <url>", "control plane URL (env STRATA_SERVER)")
    .option(
      "--token <token>",
      "API token: the admin token or one from `strata tokens create` (env STRATA_TOKEN)",
    )
    .option("--data-dir <dir>", "data folder of a local control plane (env STRATA_DATA_DIR)")
    .option("--verbose", "print stack traces on errors")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  registerInitCommands(program);
  registerServerCommand(program);
  registerAgentCommand(program);
  registerAgentInstallCommand(program);
  registerLayReleaseCommand(program);
  registerFleetCommands(program);
  registerStatusCommand(program);
  registerBuildCommand(program);
  registerDeployCommands(program);
  registerDeploymentsCommand(program);
  registerLockCommands(program);
  registerOpsCommands(program);
  registerAppCommands(program);
  registerCheckCommand(program);
  registerSecretsCommands(program);
  registerHistoryCommands(program);
  registerAuditCommands(program);
  registerImageCommands(program);
  registerDemoCommand(program);
  registerForecastCommands(program);
  registerEventCommands(program);
  registerIngestCommand(program);
  registerTokensCommand(program);
  registerSimulateCommand(program);
  registerScaleCommands(program);
  registerDashboardCommand(program);
  registerCompletionCommand(program);
  return program;
}

const VERSION_OPTION = new Option("-V, --version", "print strata's version");

/** Every command of the tree, depth first, the root first. */
export function* walk(cmd: Command): Generator<Command> {
  yield cmd;
  for (const sub of cmd.commands) yield* walk(sub);
}

/** Runs the CLI on `argv` (node, script, ...args) and returns the exit code; the one error handler. */
export async function runCli(argv: string[]): Promise<number> {
  const args = argv.slice(2);
  // Before parsing: `build --version 1.0.0` is the release's version, not strata's.
  if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
    process.stdout.write(VERSION + "\n");
    return 0;
  }
  const program = buildProgram();
  process.exitCode = undefined;
  try {
    await program.parseAsync(argv);
    const code = process.exitCode;
    return code === undefined ? 0 : Number(code);
  } catch (err) {
    return reportError(err, Boolean(program.opts().verbose) || args.includes("--verbose"));
  } finally {
    process.exitCode = undefined;
  }
}
