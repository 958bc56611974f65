import type { Command } from "commander";

/** `strata agent ...`: the agent's own parser takes every argument (the CLI imports the agent, never the reverse). */
export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description("run the agent of one server: join, watch the desired release, reconcile")
    .argument("[flags...]", "the agent's flags (strata agent --help)")
    .helpOption(false)
    .allowUnknownOption()
    .action(async (flags: string[]) => {
      // `--server` and `--verbose` may come as program-wide options, shared with every other command.
      const global = program.opts<{ server?: string; verbose?: boolean }>();
      const argv = [
        ...(global.server ? ["--server", global.server] : []),
        ...(global.verbose ? ["--verbose"] : []),
        ...flags,
      ];
      // Loaded on use: the rest of the CLI does not need the agent. The app starts from
      // `current` before the agent's modules load (runtime/early-boot.ts), as in the agent's bundle.
      const { startEarly } = await import("../../runtime/early-boot.js");
      const early = await startEarly(argv, process.env);
      try {
        const { parseAgentArgs, runUntilSignalled, AGENT_USAGE } =
          await import("../../agent/main.js");
        const config = parseAgentArgs(argv, process.env);
        if (config) await runUntilSignalled(config, early ?? undefined);
        else process.stdout.write(`${AGENT_USAGE}\n`);
      } finally {
        await early?.stop(); // the flags were refused, or run() has stopped the app already
      }
    });
}

/**
 * A subcommand of `strata agent` (install, lay-release) with its own --help:
 * the agent command turns help off for the agent's parser, and commander
 * copies that to subcommands (`strata agent install --help` was an unknown option).
 */
export function agentSubcommand(program: Command, name: string): Command {
  const agent = program.commands.find((c) => c.name() === "agent");
  if (!agent) throw new Error("register the agent command first");
  return agent.command(name).helpOption("-h, --help", "display help for command");
}
