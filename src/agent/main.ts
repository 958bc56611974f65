import { parseArgs } from "node:util";
import { StrataError, messageOf } from "../lib/errors.js";
import { parseSize, SIZE_HINT } from "../lib/size.js";
import {
  AGENT_OPTIONS as OPTIONS,
  IPV4,
  appUserOf,
  caOf,
  serverNameOf,
} from "../runtime/agent-flags.js";
import { run, type AgentConfig } from "./agent.js";
import type { EarlyBoot } from "../runtime/early-boot.js";
import { AGENT_OPS_USAGE, agentOpsConfig } from "../ops/agent-ops.js";

/**
 * The agent's own entry: flags, environment and signals, then `run()`. The
 * local provider bundles it (through `bin.ts`) without any CLI code, and
 * `strata agent` hands its arguments here.
 */
export const AGENT_USAGE = `usage: strata agent --server URL --group G --root DIR [options]

  --server URL         control plane URL (env STRATA_SERVER)
  --join-token TOKEN   join token (env STRATA_JOIN_TOKEN); needed until the agent holds its own token
  --group G            server group
  --root DIR           server root folder (releases/, current, agent.json)
  --address IP         address the app listens on (default 127.0.0.1)
  --name N             server name (default: the root folder's name)
  --max-unpacked-size SIZE
                       largest release accepted once unpacked, like 512MiB (env
                       STRATA_MAX_UNPACKED_SIZE; default 2GiB); extraction stops at it
  --app-user NAME      account apps and hooks run as when the agent runs as root (env
                       STRATA_APP_USER; default strata-app, made if missing; root: as the agent)
  --ca-file FILE       CA certificate (PEM) an https control plane must chain to (env STRATA_CA
                       holds the PEM itself; the local provider sets it)
${AGENT_OPS_USAGE}
  --verbose            print stack traces on errors
  -h, --help           this text

environment: STRATA_HEARTBEAT_MS (default 5000), STRATA_EXIT_WITH_PARENT=1 (stop with the parent process)`;

/** Flags over environment; null when help was asked for. Throws `bad_request` naming the flag. */
export function parseAgentArgs(argv: string[], env: NodeJS.ProcessEnv): AgentConfig | null {
  let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true }));
  } catch (err) {
    throw new StrataError("bad_request", `[agent] ${messageOf(err)}\n${AGENT_USAGE}`);
  }
  if (values.help) return null;
  const server = values.server ?? env.STRATA_SERVER;
  const missing = !server
    ? "--server (or STRATA_SERVER)"
    : !values.group
      ? "--group"
      : !values.root
        ? "--root"
        : null;
  if (missing)
    throw new StrataError("bad_request", `[agent] ${missing} is required\n${AGENT_USAGE}`);
  if (!IPV4.test(values.address)) {
    throw new StrataError(
      "bad_request",
      `[agent] --address: expected an IPv4 address, got "${values.address}"`,
    );
  }
  const root = values.root!;
  const joinToken = values["join-token"] ?? env.STRATA_JOIN_TOKEN;
  const heartbeatMs = Number(env.STRATA_HEARTBEAT_MS ?? "5000");
  const maxUnpacked = values["max-unpacked-size"] ?? env.STRATA_MAX_UNPACKED_SIZE;
  const maxUnpackedBytes = maxUnpacked === undefined ? undefined : parseSize(maxUnpacked);
  if (maxUnpackedBytes === null) {
    throw new StrataError(
      "bad_request",
      `[agent] --max-unpacked-size: expected ${SIZE_HINT}, got "${maxUnpacked}"`,
    );
  }
  return {
    server: server!,
    ...(joinToken ? { joinToken } : {}),
    group: values.group!,
    root,
    address: values.address,
    name: serverNameOf(values.name, root),
    heartbeatMs: Number.isFinite(heartbeatMs) && heartbeatMs > 0 ? heartbeatMs : 5000,
    exitWithParent: env.STRATA_EXIT_WITH_PARENT === "1",
    ...(maxUnpackedBytes ? { maxUnpackedBytes } : {}),
    ...appUserOf(values["app-user"] ?? env.STRATA_APP_USER),
    ...caOf(values["ca-file"], env.STRATA_CA),
    ...agentOpsConfig(values["metrics-address"] ?? env.STRATA_METRICS_ADDRESS),
  };
}

/** Runs the agent until SIGINT or SIGTERM, which become the abort of `run()`'s signal. */
export async function runUntilSignalled(config: AgentConfig, early?: EarlyBoot): Promise<void> {
  const controller = new AbortController();
  const stop = (name: string) => controller.abort(new Error(`[agent] ${name}`));
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  try {
    await run(controller.signal, config, { early });
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

/** The standalone agent process: its one error handler decides the message and the exit code. */
export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv,
  early?: EarlyBoot | null,
): Promise<number> {
  const verbose = argv.includes("--verbose");
  try {
    const config = parseAgentArgs(argv, env);
    if (!config) {
      process.stdout.write(`${AGENT_USAGE}\n`);
      return 0;
    }
    await runUntilSignalled(config, early ?? undefined);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${messageOf(err)}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    const code = (err as StrataError).code;
    return code === "bad_request" || code === "invalid_config" ? 2 : 1;
  }
}
