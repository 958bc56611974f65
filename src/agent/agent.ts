import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { systemClock, type Clock } from "../lib/clock.js";
import { ConfigError, messageOf, type StrataError } from "../lib/errors.js";
import type { AgentReport } from "../wire/agent.js";
import { createControlPlaneClient, type ControlPlaneClient } from "./control-plane-client.js";
import { fetchArtifact } from "./fetch.js";
import { isHealthy } from "./health.js";
import { loadAppSpec, reconcile, type ArtifactFetcher } from "./reconcile.js";
import { createSupervisor, stopOrphan } from "./supervisor.js";
import { readCurrent } from "../lib/server-root.js";
import { createLog } from "../lib/log.js";

export interface AgentConfig {
  /** Control plane URL. */
  server: string;
  /** Used when `<root>/agent.json` has no token yet, and after a 401. */
  joinToken?: string;
  group: string;
  /** Server root: releases, `current`, agent.json, app.log. */
  root: string;
  /** This server's address (127.x.y.z locally); the app listens on it. */
  address: string;
  name: string;
  /** @default 5000 */
  heartbeatMs?: number;
  /** Shut down (stopping the app) when the parent process goes away. @default false */
  exitWithParent?: boolean;
}

/** Replaceable parts, for tests. */
export interface AgentDeps {
  /** @default createControlPlaneClient({ server }) */
  client?: ControlPlaneClient;
  /** @default systemClock */
  clock?: Clock;
  /** @default a line on stderr */
  log?: (line: string) => void;
}

const LONG_POLL_SECONDS = 25;

/**
 * Runs the agent until `signal` aborts: serves what `current` holds at once,
 * then follows the desired state, reconciling one generation at a time, and
 * heartbeats. Retries an unreachable control plane forever. Stops the app
 * gracefully before resolving.
 */
export async function run(
  signal: AbortSignal,
  config: AgentConfig,
  deps: AgentDeps = {},
): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLog({ component: "agent" }).info;
  const client = deps.client ?? createControlPlaneClient({ server: config.server });
  const { root, address: host } = config;
  const stop = new AbortController();
  const abort = stop.signal;
  const onAbort = () => stop.abort(signal.reason);
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });

  let joining: Promise<void> | null = null;
  const joinServer = () =>
    (joining ??= (async () => {
      if (!config.joinToken) {
        throw new ConfigError("joinToken", `[agent] no token in ${root}/agent.json, no join token`);
      }
      const { name, group } = config;
      const request = { join_token: config.joinToken, name, group, address: host };
      const res = await client.join(request, abort);
      client.setToken(res.token);
      const temp = join(root, ".agent.json.tmp");
      await writeFile(temp, JSON.stringify({ name, token: res.token }) + "\n", { mode: 0o600 });
      await rename(temp, join(root, "agent.json"));
      log(`[agent] joined ${config.server} as ${name}`);
    })().finally(() => (joining = null)));

  /** Calls `work` until it succeeds, the agent stops or `worthRetry` says no; rejoins on 401. */
  const retrying = async <T>(
    what: string,
    work: () => Promise<T>,
    worthRetry = (err: unknown) => !(err instanceof ConfigError),
  ): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await work();
      } catch (err) {
        if (abort.aborted) throw abort.reason;
        if (!worthRetry(err)) throw err;
        log(`${messageOf(err)} (${what}: retrying)`);
        if ((err as StrataError).code === "unauthorized" && config.joinToken) {
          await joinServer().catch((joinErr) => log(`[agent] join: ${messageOf(joinErr)}`));
        }
        await clock.sleep(Math.random() * Math.min(30_000, 500 * 2 ** attempt), abort);
      }
    }
  };

  // Reports go out in order; the final one is retried, a lost `working` one only costs progress display.
  let reports = Promise.resolve();
  const report = (next: AgentReport) => {
    const send = () => client.report(next, abort);
    reports = reports.then(() =>
      (next.phase === "working" ? send() : retrying("report", send, isTransient)).catch(
        (err) => void (next.phase !== "working" && log(`[agent] report lost: ${messageOf(err)}`)),
      ),
    );
    return next.phase === "working" ? undefined : reports;
  };

  await mkdir(join(root, "releases"), { recursive: true });
  const saved = await readFile(join(root, "agent.json"), "utf8").then(
    (text) => JSON.parse(text) as { token?: string },
    () => null,
  );
  if (saved?.token) client.setToken(saved.token);
  const pidFile = join(root, "app.pid");
  if (await stopOrphan(pidFile, root)) log("[agent] stopped the app a previous agent left running");
  const supervisor = createSupervisor({ logFile: join(root, "app.log"), pidFile, clock });

  const heartbeats = async () => {
    while (!abort.aborted) {
      const app = supervisor.current;
      const healthy =
        app !== null && (await isHealthy({ host, ...app.definition, clock, signal: abort }));
      const beat = {
        current_release: await readCurrent(root),
        app_healthy: healthy,
        app_port: app?.definition.port ?? null,
      };
      await client.heartbeat(beat, abort).catch(() => undefined); // 401s are handled by the main loop
      await clock.sleep(config.heartbeatMs ?? 5000, abort).catch(() => undefined);
    }
  };

  const ppid = process.ppid;
  const parentWatch = config.exitWithParent
    ? setInterval(() => {
        if (process.ppid === ppid) return;
        log("[agent] parent process is gone: shutting down");
        stop.abort();
      }, 1000)
    : undefined;
  let heartbeatLoop = Promise.resolve();
  try {
    const current = await readCurrent(root);
    if (current) {
      await loadAppSpec(root, current, host).then(
        (app) => supervisor.start(app),
        (err) => log(`[agent] cannot start ${current}: ${messageOf(err)}`),
      );
    }
    if (!client.token) await retrying("join", joinServer);
    heartbeatLoop = heartbeats();

    const fetcher: ArtifactFetcher = async (release, dest, fetchSignal) => {
      const url = config.server.replace(/\/+$/, "") + release.artifact_path;
      const { id: releaseId, size } = release;
      await fetchArtifact({
        url,
        token: client.token ?? "",
        releaseId,
        size,
        dest,
        clock,
        signal: fetchSignal,
      });
    };
    let after = -1;
    let handled: number | null = null;
    while (!abort.aborted) {
      const desired = await retrying("desired", () =>
        client.desired(after, LONG_POLL_SECONDS, abort),
      );
      const { generation, release } = desired;
      after = generation;
      if (generation === handled) continue;
      if (!release) {
        const current_release = await readCurrent(root);
        await report({
          generation,
          release_id: null,
          phase: "converged",
          current_release,
          steps: [],
        });
        handled = generation;
        continue;
      }
      log(`[agent] generation ${generation}: ${release.app}@${release.version} (${release.id})`);
      try {
        const options = { root, generation, release, host, supervisor, fetchArtifact: fetcher };
        const final = await reconcile({ ...options, report, clock, signal: abort });
        log(`[agent] generation ${generation}: ${final.phase} ${final.error ?? ""}`);
        handled = generation;
      } catch (err) {
        if (abort.aborted) throw err;
        // Not a verdict on the release (disk full, permissions...): try the same generation again.
        log(`[agent] generation ${generation}: ${messageOf(err)}`);
        await clock.sleep(5000, abort);
      }
    }
  } catch (err) {
    if (!abort.aborted) throw err;
  } finally {
    stop.abort();
    signal.removeEventListener("abort", onAbort);
    clearInterval(parentWatch);
    await heartbeatLoop;
    await supervisor.stop();
  }
}

function isTransient(err: unknown): boolean {
  const code = (err as StrataError).code;
  return code === undefined || ["unavailable", "unauthorized", "internal"].includes(code);
}
