import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, openSync, rmSync, writeFileSync } from "node:fs";
import type { RunAs } from "../lib/app-user.js";
import type { Clock } from "../lib/clock.js";
import type { AppDefinition } from "../config/app-definition.js";
import { atNormalPriority, childEnv, groupAlive, killGroup, processAlive } from "../lib/process.js";
import { appEnv } from "./app-env.js";
import { DEFAULT_LOG_ROTATION, rotateIfLarge } from "./log-rotation.js";
import { messageOf } from "../lib/errors.js";

/** One release to run. */
export interface AppSpec {
  releaseId: string;
  version: string;
  /** The release folder: the app's working directory. */
  dir: string;
  definition: AppDefinition;
  /** The server's address, passed as HOST. */
  host: string;
}

export interface SupervisorOptions {
  /** The app's stdout and stderr are appended here. */
  logFile: string;
  clock: Clock;
  /** First delay before restarting a crashed app; doubles per crash. @default 500 */
  restartBaseMs?: number;
  /** @default 30000 */
  restartMaxMs?: number;
  /** An app that stayed up this long restarts after `restartBaseMs` again. @default 10000 */
  resetAfterMs?: number;
  /** Where the running app's process group id is kept, so a restarted agent can stop an app its killed predecessor left behind. */
  pidFile?: string;
  /** The account the app runs as (the agent runs as root). @default the agent's own */
  runAs?: RunAs;
  /** How often the log's size is checked against the running app's `log:` rotation. @default 10000 */
  logCheckMs?: number;
  /**
   * The app's secrets, asked at each start() and added to its environment (kept in memory
   * only). When it fails, the app starts without them and app.log says so (no values).
   */
  secrets?: () => Promise<Record<string, string>>;
}

/** Runs at most one app at a time. Calls must not overlap (the agent serializes them). */
export interface Supervisor {
  /** Starts the app in its own process group, stopping the running one first. Resolves once spawned. */
  start(spec: AppSpec): Promise<void>;
  /**
   * Takes over `pid`, the leader of its own process group, already running
   * `spec` (started by the server's boot before the agent: boot-start.ts), as
   * if start() had spawned it: stop() stops its group, and when it ends on
   * its own it is started again. Its exit status is not known (it is not
   * this process's child). It counts as started without its secrets, when
   * there are any to ask for (recheckSecrets). Only when nothing runs.
   */
  adopt(spec: AppSpec, pid: number): void;
  /**
   * Stops the app: SIGTERM to its process group, SIGKILL once the spec's stop
   * timeout passes; resolves when the whole group is gone. Cancels a pending
   * restart. Idempotent.
   */
  stop(): Promise<void>;
  /** What runs (or waits to restart after a crash); null when stopped. */
  readonly current: AppSpec | null;
  /** The app's process id while it runs. */
  readonly pid: number | null;
  /** Whether the running app was started without its secrets (they could not be fetched). */
  readonly secretsMissing: boolean;
  /**
   * Asks for the secrets again when the running app was started without them
   * (at boot, before the agent had joined). When there are none to give, the
   * app already runs with everything it should have: it then counts as started
   * with its secrets and needs no restart. Resolves whether it still misses
   * them (restart it then). Idempotent; not concurrent with start().
   */
  recheckSecrets(): Promise<boolean>;
  /** How the app last ended on its own since `start()` (a crash), null while it never has. */
  readonly lastExit: AppExit | null;
  /** Adds a listener called each time the app ends on its own, before its restart is scheduled. */
  onExit(listener: (exit: AppExit) => void): void;
}

export interface AppExit {
  /** Exit code, null when a signal ended it (or it could not be started, or it was adopted: not known). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not be started (ENOENT...), when that was the case. */
  error?: string;
  /** Ends since start(). */
  count: number;
}

type Env = Record<string, string>;

/**
 * Spawns `app` as the supervisor runs it: its own process group, in its
 * release folder, its output appended to `logFile`, the app's environment made
 * from `baseEnv` (the agent's), as `runAs`. The server's boot starts an app
 * the same way before the agent runs (boot-start.ts).
 */
export function spawnApp(
  app: AppSpec,
  options: { logFile: string; secrets: Env; runAs?: RunAs; baseEnv?: NodeJS.ProcessEnv },
): ChildProcess {
  const fd = openSync(options.logFile, "a");
  const [file, ...args] = app.definition.start;
  try {
    return atNormalPriority(
      spawn(file!, args, {
        cwd: app.dir,
        env: childEnv(appEnv(app, options.secrets), options.baseEnv),
        stdio: ["ignore", fd, fd],
        detached: true,
        ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      }),
    );
  } finally {
    closeSync(fd);
  }
}

/** Appends a `[strata] <time> <line>` note to app.log; a root that is gone is ignored. */
export function noteAppLog(logFile: string, at: number, line: string): void {
  try {
    appendFileSync(logFile, `[strata] ${new Date(at).toISOString()} ${line}\n`);
  } catch {
    // the root is gone (tests, uninstall): nothing to keep
  }
}

/** How often an adopted app's leader is looked for (it is not our child: no exit event). */
const ADOPTED_POLL_MS = 50;

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const { clock, logFile } = options;
  const base = options.restartBaseMs ?? 500;
  let spec: AppSpec | null = null;
  let pid: number | null = null;
  let lastExit: AppExit | null = null;
  let secretsMissing = false;
  /** Bumped by every start and stop: a start that waited on its secrets goes on only if still the last. */
  let epoch = 0;
  let run: AbortController | null = null;
  let logTimer: NodeJS.Timeout | undefined;
  let closed = Promise.resolve();
  const exitListeners: ((exit: AppExit) => void)[] = [];

  const note = (line: string) => noteAppLog(logFile, clock.now(), line);
  const rotateLog = () => {
    try {
      rotateIfLarge(logFile, spec?.definition.log ?? DEFAULT_LOG_ROTATION);
    } catch {
      // the root is gone (tests, uninstall)
    }
  };

  function launch(app: AppSpec, signal: AbortSignal, delay: number, secrets: Env) {
    rotateLog();
    const child = spawnApp(app, {
      logFile,
      secrets,
      ...(options.runAs && { runAs: options.runAs }),
    });
    pid = child.pid ?? null;
    if (options.pidFile && pid) writeFileSync(options.pidFile, `${pid}\n`);
    const startedAt = clock.now();
    note(`started ${app.releaseId} (${app.version}) pid ${pid}`);
    child.on("error", (err) => {
      note(`cannot start: ${err.message}`);
      lastExit = {
        code: null,
        signal: null,
        error: err.message,
        count: (lastExit?.count ?? 0) + 1,
      };
    });
    closed = new Promise((resolve) => child.on("close", () => resolve()));
    child.on("close", (code, sig) => {
      // Both null: it could not be started ('error' above said why).
      const exit = code !== null || sig !== null ? { code, signal: sig } : null;
      ended({ app, signal, group: child.pid, startedAt, delay, secrets, exit });
    });
  }

  /** Watches an adopted app's leader (not our child: no 'close'); resolves `closed` when it is gone. */
  function watchAdopted(app: AppSpec, signal: AbortSignal, group: number) {
    const startedAt = clock.now();
    let gone: () => void = () => {};
    closed = new Promise((resolve) => (gone = resolve));
    const timer = setInterval(() => {
      if (processAlive(group)) return;
      clearInterval(timer);
      gone();
      const exit = { code: null, signal: null };
      ended({ app, signal, group, startedAt, delay: base, secrets: {}, exit });
    }, ADOPTED_POLL_MS);
    timer.unref();
  }

  /** The app's leader is gone: unless stopped, its group goes too and it starts again after a pause. */
  function ended(end: {
    app: AppSpec;
    signal: AbortSignal;
    group: number | undefined;
    startedAt: number;
    delay: number;
    secrets: Env;
    exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  }) {
    const { app, signal, group, exit } = end;
    if (pid === group) pid = null;
    if (signal.aborted) return;
    // Regression: what the app had started (a shell's child) outlived it, kept its port and
    // made every restart fail, and no stop reached it (the pid file names the new group).
    killGroup(group, "SIGKILL");
    if (exit) {
      lastExit = { ...exit, count: (lastExit?.count ?? 0) + 1 };
      for (const listener of exitListeners) listener(lastExit);
    }
    const upMs = clock.now() - end.startedAt;
    const wait = upMs >= (options.resetAfterMs ?? 10_000) ? base : end.delay;
    const how = exit ? ` (${exit.code ?? exit.signal ?? "how is not known: adopted"})` : "";
    note(`app exited${how} after ${upMs} ms; restarting in ${wait} ms`);
    clock.sleep(wait, signal).then(
      () => launch(app, signal, Math.min(options.restartMaxMs ?? 30_000, wait * 2), end.secrets),
      () => undefined,
    );
  }

  return {
    get current() {
      return spec;
    },
    get pid() {
      return pid;
    },
    get lastExit() {
      return lastExit;
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
    get secretsMissing() {
      return secretsMissing;
    },
    async recheckSecrets() {
      if (!secretsMissing || !options.secrets) return secretsMissing;
      const secrets = await options.secrets().catch(() => null);
      if (secrets && Object.keys(secrets).length === 0) {
        secretsMissing = false;
        note("the app has no secrets: it already runs with everything it needs");
      }
      return secretsMissing;
    },
    async start(app) {
      const mine = ++epoch;
      // Asked before the running app stops: the gap between the two stays as short as it was.
      let missing = false;
      const secrets = options.secrets
        ? await options.secrets().catch((err: unknown) => {
            note(`starting without the app's secrets: ${messageOf(err)}`);
            missing = true;
            return {};
          })
        : {};
      // Regression: a stop (the agent shutting down) while the secrets were asked for was
      // undone by this start resuming after it, and the app outlived its agent.
      if (mine !== epoch) return;
      secretsMissing = missing;
      await halt();
      if (mine !== epoch) return;
      spec = app;
      lastExit = null;
      run = new AbortController();
      launch(app, run.signal, base, secrets);
      logTimer = setInterval(rotateLog, options.logCheckMs ?? 10_000).unref();
    },
    adopt(app, adopted) {
      if (spec) throw new Error("[supervisor] adopt: an app runs already");
      epoch++;
      spec = app;
      pid = adopted;
      lastExit = null;
      secretsMissing = options.secrets !== undefined;
      if (options.pidFile) writeFileSync(options.pidFile, `${adopted}\n`);
      note(
        `adopted ${app.releaseId} (${app.version}) pid ${adopted}, started at the server's boot`,
      );
      run = new AbortController();
      watchAdopted(app, run.signal, adopted);
      logTimer = setInterval(rotateLog, options.logCheckMs ?? 10_000).unref();
    },
    async stop() {
      epoch++;
      await halt();
    },
  };

  /** Stops what runs (the app's whole process group), waiting up to its stop timeout. */
  async function halt(): Promise<void> {
    const group = pid;
    const stopTimeoutMs = spec?.definition.stopTimeoutMs ?? 10_000;
    run?.abort();
    clearInterval(logTimer);
    spec = null;
    if (group === null) return;
    killGroup(group, "SIGTERM");
    const deadline = clock.now() + stopTimeoutMs;
    let leaderGone = false;
    void closed.then(() => (leaderGone = true));
    while (!leaderGone || groupAlive(group)) {
      if (clock.now() >= deadline) killGroup(group, "SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    note(`stopped pid ${group}`);
    if (options.pidFile) rmSync(options.pidFile, { force: true });
  }
}
