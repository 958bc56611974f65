import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description("run the agent of one server: join, watch the desired release, reconcile")
    .option(
      "--join-token <token>",
      "join token (env STRATA_JOIN_TOKEN); needed until the agent holds its own token",
    )
    .requiredOption("--group <group>", "server group")
    .requiredOption("--root <dir>", "server root folder (releases/, current)")
    .option("--address <ip>", "address the app listens on", "127.0.0.1")
    .option("--name <name>", "server name (default: the root folder's name)")
    .action(
      async (opts: {
        joinToken?: string;
        group: string;
        root: string;
        address: string;
        name?: string;
      }) => {
        // `--server` is the program-wide option, shared with every other command.
        const server = program.opts<{ server?: string }>().server ?? process.env.STRATA_SERVER;
        if (!server)
          throw new StrataError("bad_request", "[agent] --server (or STRATA_SERVER) is required");
        const joinToken = opts.joinToken ?? process.env.STRATA_JOIN_TOKEN;
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(opts.address)) {
          throw new StrataError(
            "bad_request",
            `[agent] --address: expected an IPv4 address, got "${opts.address}"`,
          );
        }
        const controller = new AbortController();
        const stop = () => controller.abort(new Error("signal"));
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        const heartbeatMs = Number(process.env.STRATA_HEARTBEAT_MS ?? "5000");
        // Loaded on use: a new server starts its agent on every launch, and the rest of the CLI is not needed.
        const { run } = await import("../../agent/agent.js");
        await run(controller.signal, {
          server,
          ...(joinToken ? { joinToken } : {}),
          group: opts.group,
          root: opts.root,
          address: opts.address,
          name: opts.name ?? opts.root.replace(/\/+$/, "").split("/").pop()!,
          heartbeatMs: Number.isFinite(heartbeatMs) && heartbeatMs > 0 ? heartbeatMs : 5000,
          exitWithParent: process.env.STRATA_EXIT_WITH_PARENT === "1",
        });
      },
    );
}
