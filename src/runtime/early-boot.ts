import { Socket } from "node:net";
import { constants as osConstants } from "node:os";
import { parseArgs } from "node:util";
import { systemClock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import { readSwitchIntent } from "../lib/server-root.js";
import type { JoinResponse } from "../wire/agent.js";
import {
  AGENT_OPTIONS,
  IPV4,
  ROOT_READY_FD_ENV,
  appUserOf,
  caOf,
  serverNameOf,
} from "./agent-flags.js";
import { startCurrent } from "./boot.js";
import { stopBootApp } from "./boot-start.js";
import { createBootTrace, type BootTrace } from "./boot-trace.js";
import { joinEarly } from "./early-join.js";
import { openRoot, type OpenedRoot, type TokenHolder } from "./open-root.js";
import type { AppSpec } from "./supervisor.js";

/** What the early boot did before the agent's own modules were loaded. */
export interface EarlyBoot {
  /**
   * The opened root (`openRoot`) for the agent's client: the token read from
   * the root is handed to it, and the app's secrets are asked with its token
   * from then on; the early boot's log lines go to `log`, those so far first.
   * Called once, by `run()`.
   */
  attach(client: TokenHolder, log: (line: string) => void): OpenedRoot;
  /** Stops the app it started: for when `main()` refuses the flags and `run()` never owns it. Idempotent. */
  stop(): Promise<void>;
  /** The app started from `current`; null when nothing was (no current, stopped, a switch to complete). */
  started: AppSpec | null;
  /**
   * The join it sent as soon as the root was open (joinEarly), for the
   * agent's first join to take: its answer, or null when it failed (the
   * agent then joins itself). Absent where the root holds a token or there
   * is no join token.
   */
  joined?: Promise<JoinResponse | null>;
  trace: BootTrace;
}

/**
 * The first thing the agent's executable does, before it loads the agent
 * (HTTP client, deploy, file store, zod, ...: about as long to load as node
 * takes to start): opens the root and starts the app from `current`, as
 * `boot()` would, so that the app's own start runs while the agent loads and
 * joins. Reads the same flags as `main()`; with `--help` or flags that
 * `main()` will refuse, or a root that cannot be opened, does nothing
 * (null) and leaves it to `main()` to say why. Rejects ("unavailable") only
 * when the launcher's pipe closes without `ready`: the root is not to be used.
 */
export async function startEarly(
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<EarlyBoot | null> {
  const config = earlyConfig(argv, env);
  if (!config) return null;
  // Kept for the agent's own log, which opens later (on stderr if the agent never gets that far).
  const lines: string[] = [];
  let sink: ((line: string) => void) | null = null;
  const log = (line: string) => (sink ? sink(line) : lines.push(line));
  const flush = (to: (line: string) => void) => {
    sink = to;
    for (const line of lines.splice(0)) to(line);
  };
  const trace = createBootTrace(config.root, env);
  trace("early_boot");
  const readyFd = env[ROOT_READY_FD_ENV];
  if (readyFd) {
    // Only this process waits on it: the app it starts does not inherit it.
    delete process.env[ROOT_READY_FD_ENV];
    if (!(await rootReady(Number(readyFd))))
      throw new StrataError(
        "unavailable",
        `[agent] ${config.root}: its launcher went away before the root was complete`,
      );
    trace("root_ready");
  }
  const tokens = createTokenRelay();
  let onSignal: ((name: NodeJS.Signals) => void) | null = null;
  const unhandle = () => onSignal && process.off("SIGTERM", onSignal).off("SIGINT", onSignal);
  try {
    const opened = await openRoot(config, tokens, systemClock, log);
    trace("root_opened");
    const joined = tokens.token ? undefined : sendJoin(config, log, trace);
    // Until run() owns the app (its own handlers turn signals into its stop), a signal stops it here:
    // the app has a process group of its own, and a stop of the agent's group would not reach it.
    onSignal = (name) =>
      void opened.supervisor.stop().finally(() => process.exit(128 + osConstants.signals[name]));
    process.once("SIGTERM", onSignal).once("SIGINT", onSignal);
    const start = !(await readSwitchIntent(config.root));
    const how = { ...config, supervisor: opened.supervisor, log, trace };
    const runAs = opened.runAs ? { runAs: opened.runAs } : {};
    const started = start
      ? await startCurrent({ ...how, ...runAs })
      : await stopBootApp(config.root).then(() => null);
    return {
      started,
      ...(joined && { joined }),
      trace,
      attach: (client, agentLog) => {
        unhandle();
        tokens.attach(client);
        flush(agentLog);
        return opened;
      },
      stop: () => {
        flush((line) => process.stderr.write(`${line}\n`));
        return opened.supervisor.stop();
      },
    };
  } catch (err) {
    unhandle();
    flush((line) => process.stderr.write(`${line}\n`));
    process.stderr.write(`[agent] early boot: ${messageOf(err)}\n`);
    return null;
  }
}

type EarlyConfig = {
  root: string;
  address: string;
  server: string;
  name: string;
  group: string;
  joinToken?: string;
  appUser?: string;
  ca?: string;
};

/** joinEarly with the agent's flags; null (the agent joins itself) when it fails or there is no join token. */
function sendJoin(
  config: EarlyConfig,
  log: (line: string) => void,
  trace: BootTrace,
): Promise<JoinResponse | null> | undefined {
  if (!config.joinToken) return undefined;
  const { name, group, address } = config;
  const request = { join_token: config.joinToken, name, group, address };
  return joinEarly(config.server, request, config.ca ? { ca: config.ca } : {}).then(
    (answer) => {
      trace("early_joined");
      return answer;
    },
    (err: unknown) => {
      log(`${messageOf(err)}; the agent joins itself`);
      return null;
    },
  );
}

function earlyConfig(argv: string[], env: NodeJS.ProcessEnv): EarlyConfig | null {
  try {
    const { values } = parseArgs({ args: argv, options: AGENT_OPTIONS, strict: true });
    const server = values.server ?? env.STRATA_SERVER;
    if (values.help || !values.root || !values.group || !server || !IPV4.test(values.address))
      return null;
    const joinToken = values["join-token"] ?? env.STRATA_JOIN_TOKEN;
    return {
      root: values.root,
      address: values.address,
      server,
      name: serverNameOf(values.name, values.root),
      group: values.group,
      ...(joinToken ? { joinToken } : {}),
      ...appUserOf(values["app-user"] ?? env.STRATA_APP_USER),
      ...caOf(values["ca-file"], env.STRATA_CA),
    };
  } catch {
    return null;
  }
}

/** Resolves true once `ready` arrives on `fd`, false when it closes without it. */
function rootReady(fd: number): Promise<boolean> {
  return new Promise((resolve) => {
    const pipe = new Socket({ fd, readable: true, writable: false });
    let text = "";
    pipe.setEncoding("utf8");
    pipe.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("ready")) {
        resolve(true);
        pipe.destroy();
      }
    });
    pipe.on("error", () => resolve(false));
    pipe.on("close", () => resolve(text.includes("ready")));
  });
}

/** Holds the token read from the root until the agent's client exists, then forwards to it. */
function createTokenRelay(): TokenHolder & { attach(client: TokenHolder): void } {
  let saved: string | null = null;
  let client: TokenHolder | null = null;
  return {
    get token() {
      return client ? client.token : saved;
    },
    setToken(token) {
      if (client) client.setToken(token);
      else saved = token;
    },
    attach(target) {
      if (saved && !target.token) target.setToken(saved);
      client = target;
    },
  };
}
