import type { ReleaseBuilder } from "../cas/release-builder.js";
import { unshareStore } from "../cas/unshare-store.js";
import type { Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import { failpoint } from "../lib/failpoint.js";
import { readCurrent } from "../lib/server-root.js";
import { isAppStopped, readCurrentApp } from "./current-app.js";
import type { RunAs } from "../lib/app-user.js";
import { stopBootApp, takeBootApp } from "./boot-start.js";
import type { BootTrace } from "./boot-trace.js";
import { checkHealth } from "./health.js";
import type { AppSpec, Supervisor } from "./supervisor.js";

export interface BootOptions {
  /** The server root. */
  root: string;
  /** The server's address; the app listens on it. */
  address: string;
  supervisor: Supervisor;
  /**
   * Whether to start what `current` holds: false while a switch a killed agent
   * left under way is to be completed first (it starts the app itself).
   */
  start: boolean;
  /**
   * Joins the control plane (retried until it succeeds or the agent stops);
   * null when the agent holds a token already.
   */
  join: (() => Promise<void>) | null;
  /**
   * Whether the root's store must get its own inodes before anything is built
   * from it (unshareStore): the apps run as the agent's own account.
   */
  unshare: boolean;
  /** The account apps run as (the supervisor's); undefined: the agent's. */
  runAs?: RunAs;
  /**
   * The app the agent's early boot started (`early-boot.ts`), null when it
   * started none; then `start` is not looked at.
   * @default the boot starts it
   */
  started?: AppSpec | null;
  log: (line: string) => void;
  clock: Clock;
  signal: AbortSignal;
  /** @default no trace */
  trace?: BootTrace;
}

export interface Booted {
  /**
   * Whether the app started at boot answered its health check, watched from
   * the moment it was spawned; null when nothing was started. The first
   * reconcile takes it instead of a check of its own that would begin only
   * after the join and back off between tries.
   */
  healthy: Promise<boolean> | null;
  /**
   * Wraps the agent's release builder so that it waits for the store's
   * unsharing, done after the boot's health watch (off the service-in path).
   */
  afterStore: (build: ReleaseBuilder) => ReleaseBuilder;
}

/** Pause between the boot watch's tries: the app's service-in waits on the first answer. */
const WATCH_INTERVAL_MS = 10;

/**
 * A server's boot, the agent being a boot-time service: the app starts from
 * `current` (a golden image's release, or the one that ran before a reboot)
 * at once, and the join runs while it comes up, so a server from a current
 * image serves as soon as its app is up. The agent goes
 * on as usual afterwards: it reports, and obeys the desired state once it
 * hears it (a release that differs is deployed as always). While the control
 * plane cannot be reached, the join is retried and the app keeps serving.
 * An app started before the join lacks its secrets: once joined, and before
 * the agent heartbeats, it is restarted with them when there are any (an app
 * with none is left running). Resolves once the app was spawned and the
 * agent has joined; rejects only as the join does (the agent stopping, no
 * join token).
 */
export async function boot(options: BootOptions): Promise<Booted> {
  const trace = options.trace ?? (() => {});
  const app =
    options.started !== undefined
      ? options.started
      : options.start
        ? await startCurrent({ ...options, trace })
        : await stopBootApp(options.root).then(() => null);
  if (app) failpoint("boot.started", options.root);
  // The join runs while the app comes up. A kill between the control plane's answer to the
  // join and the saved token is safe: the join token stays valid until the new agent token's
  // first use (Fleet.join), so the restarted agent joins again.
  const joined = options.join?.() ?? Promise.resolve();
  let healthy = app ? watchHealth(app, options) : null;
  void healthy?.then((ok) => trace(ok ? "app_healthy" : "app_unhealthy"));
  const unshared = options.unshare
    ? Promise.resolve(healthy)
        .then(() => unshareStore(options.root))
        .then(
          ({ unshared, dropped }) =>
            unshared + dropped > 0 &&
            options.log(
              `[cas] the store's blobs got their own inodes: ${unshared} copied, ${dropped} written through and dropped`,
            ),
          (err: unknown) => options.log(`[cas] unsharing the store: ${messageOf(err)}`),
        )
    : Promise.resolve();
  await joined;
  trace("joined");
  // Before the agent heartbeats (a healthy app on the desired release would enter service):
  // an app with secrets restarts with them; one with none runs as it should.
  if (app && (await options.supervisor.recheckSecrets())) {
    await options.supervisor.start(app);
    healthy = watchHealth(app, options);
  }
  return {
    healthy,
    afterStore:
      (build) =>
      async (...args) => {
        await unshared;
        return build(...args);
      },
  };
}

/**
 * Starts what `current` holds, unless the app was stopped (`strata app stop`);
 * the app started, if any. Where the server's boot started it already
 * (boot-start.ts), the supervisor adopts that process instead.
 */
export async function startCurrent(options: {
  root: string;
  address: string;
  supervisor: Supervisor;
  runAs?: RunAs;
  log: (line: string) => void;
  trace: BootTrace;
}): Promise<AppSpec | null> {
  const { root, address, supervisor, log, trace } = options;
  const current = await readCurrent(root);
  if (!current || (await isAppStopped(root))) {
    await stopBootApp(root);
    return null;
  }
  // Saved by the bake: the parser (release-app.js: yaml, zod) loads only when it is not.
  const cached = await readCurrentApp(root, current, address);
  const spec = cached
    ? Promise.resolve(cached)
    : import("./release-app.js").then(({ loadAppSpec }) => loadAppSpec(root, current, address));
  return spec.then(
    async (app) => {
      trace("app_spec_loaded");
      const booted = await takeBootApp(root, app, options.runAs);
      if (booted) {
        supervisor.adopt(app, booted);
        trace("app_adopted");
        return app;
      }
      await supervisor.start(app);
      trace("app_spawned");
      return supervisor.current === app ? app : null;
    },
    async (err) => {
      log(`[agent] cannot start ${current}: ${messageOf(err)}`);
      await stopBootApp(root);
      return null;
    },
  );
}

/** The app's health check tried every WATCH_INTERVAL_MS for as long as its own tries would last. */
function watchHealth(app: AppSpec, { clock, signal }: BootOptions): Promise<boolean> {
  const { health } = app.definition;
  let budgetMs = 0;
  for (let attempt = 1; attempt <= health.retries; attempt++)
    budgetMs += Math.min(health.intervalMs, 20 * 2 ** (attempt - 1));
  const retries = Math.max(health.retries, Math.ceil(budgetMs / WATCH_INTERVAL_MS));
  const watched = { ...health, intervalMs: WATCH_INTERVAL_MS, retries };
  return checkHealth({ host: app.host, ...app.definition, health: watched, clock, signal }).then(
    () => true,
    () => false,
  );
}
