import { Option, type Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import { MAX_LOG_LINES } from "../../wire/ops.js";
import { createClient } from "../client.js";
import { durationFlag, wholeNumber } from "../flags.js";
import { runExec, runLogs } from "../ops-run.js";
import type { OutputOptions } from "../output.js";

/** `strata logs` and `strata exec`: day-two operations on a group's running servers. */
export function registerOpsCommands(program: Command): void {
  program
    .command("logs")
    .description(
      "the app's (or the agent's) output on a group's servers, streamed through the control plane; each line prefixed by its server",
    )
    .requiredOption("--group <group>", "server group")
    .option("--on <server>", "only this server (a name from strata status)")
    .addOption(new Option("--app", "the app's stdout and stderr (the default)").conflicts("agent"))
    .option("--agent", "the agent's own log (JSON lines)")
    .option("-f, --follow", "keep streaming new lines until Ctrl-C (or every server went away)")
    .option("--since <duration>", "only lines from this long ago on: 10m, 2h")
    .option("--lines <n>", `last lines per server, at most ${MAX_LOG_LINES}`, "100")
    .option("--json", "print one JSON document (with --follow: one JSON event a line)")
    .action(
      async (
        opts: {
          group: string;
          on?: string;
          agent?: boolean;
          follow?: boolean;
          since?: string;
          lines: string;
        } & OutputOptions,
      ) => {
        const lines = wholeNumber("--lines", opts.lines);
        if (lines < 1 || lines > MAX_LOG_LINES) {
          throw new StrataError(
            "bad_request",
            `[cli] --lines: expected 1 to ${MAX_LOG_LINES}, got ${lines}`,
          );
        }
        if (opts.since) durationFlag("--since", opts.since);
        const client = await createClient(program.opts());
        process.exitCode = await untilInterrupted((signal) =>
          runLogs(
            client,
            {
              group: opts.group,
              ...(opts.on ? { server: opts.on } : {}),
              source: opts.agent ? "agent" : "app",
              lines,
              ...(opts.since ? { since: opts.since } : {}),
              follow: Boolean(opts.follow),
              json: Boolean(opts.json),
            },
            signal,
          ),
        );
      },
    );

  program
    .command("exec")
    .description(
      "run a command in the current release on each server of a group (as the app's user), in batches; exit 1 if it failed on any (admin only, audited)",
    )
    .usage("--group <group> [options] -- <command...>")
    .argument("<command...>", "the command and its arguments, after --")
    .requiredOption("--group <group>", "server group")
    .option("--on <server>", "only this server (a name from strata status)")
    .option("--batch <n>", "servers at a time (default: all at once)")
    .option("--timeout <duration>", "longest the command may run on a server", "60s")
    .option(
      "--json",
      "print one JSON document: each server's output and exit status, and the outcome",
    )
    .action(
      async (
        command: string[],
        opts: { group: string; on?: string; batch?: string; timeout: string } & OutputOptions,
      ) => {
        durationFlag("--timeout", opts.timeout);
        const batch = opts.batch === undefined ? 0 : wholeNumber("--batch", opts.batch);
        const client = await createClient(program.opts());
        process.exitCode = await untilInterrupted((signal) =>
          runExec(
            client,
            {
              group: opts.group,
              ...(opts.on ? { server: opts.on } : {}),
              argv: command,
              batch,
              timeout: opts.timeout,
            },
            { json: Boolean(opts.json) },
            signal,
          ),
        );
      },
    );
}

/** Runs `work` with a signal that SIGINT (Ctrl-C) and SIGTERM abort. */
async function untilInterrupted<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await work(abort.signal);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
