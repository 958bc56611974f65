import type { RunAs } from "../lib/app-user.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import { readCurrent, readSwitchIntent, type SwitchIntent } from "../lib/server-root.js";
import type { DesiredRelease } from "../wire/agent.js";
import { createControlPlaneClient, type ControlPlaneClient } from "./control-plane-client.js";
import { fetchArtifact } from "../artifact/download.js";
import { isHealthy } from "../runtime/health.js";
import { reconcile, stage, type ArtifactFetcher } from "./reconcile.js";
import { createSession, type Session } from "./session.js";
import type { Supervisor } from "../runtime/supervisor.js";
import { openRoot } from "../runtime/open-root.js";
import { watchParent } from "../lib/process.js";
import { createAgentOps, type AgentOpsConfig } from "../ops/agent-ops.js";
import { createAppControl } from "../runtime/app-control.js";
import { boot } from "../runtime/boot.js";
import type { EarlyBoot } from "../runtime/early-boot.js";
import { createAgentReleaseBuilder, type CasReleaseBuilder } from "../cas/release-builder.js";

export interface AgentConfig extends AgentOpsConfig {
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
  /** Largest total of file bytes a release may unpack to; extraction stops there. @default 2 GiB */
  maxUnpackedBytes?: number;
  /**
   * Account apps and hooks run as (made if missing), so a release cannot read
   * the agent's token or the control plane's secrets. Needs root.
   * @default none: they run as the agent
   */
  appUser?: string;
  /** PEM of the CA an https control plane's certificate must chain to (strata's own). */
  ca?: string;
}

/** Replaceable parts, for tests. */
export interface AgentDeps {
  /** @default createControlPlaneClient({ server }) */
  client?: ControlPlaneClient;
  /** @default systemClock */
  clock?: Clock;
  /** @default a line on stderr */
  log?: (line: string) => void;
  /** What the executable's early boot opened and started (runtime/early-boot.ts). @default none */
  early?: EarlyBoot | null;
}

const LONG_POLL_SECONDS = 25;

/** What the parts of a running agent share. */
interface Agent {
  config: AgentConfig;
  client: ControlPlaneClient;
  session: Session;
  supervisor: Supervisor;
  clock: Clock;
  log: (line: string) => void;
  signal: AbortSignal;
  /** The release staged last, kept on disk until it is switched to. */
  staged?: string;
  runAs?: RunAs;
  cas?: CasReleaseBuilder;
  /** The health of the app started at boot (runtime/boot.ts), for the first reconcile. */
  booted?: Promise<boolean>;
}

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
  const ops = createAgentOps(config);
  const log = deps.log ?? ops.log;
  const client =
    deps.client ??
    createControlPlaneClient({ server: config.server, ...(config.ca ? { ca: config.ca } : {}) });
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });

  const { supervisor, releaseKey, runAs } =
    deps.early?.attach(client, log) ?? (await openRoot(config, client, clock, log));
  const session = createSession({
    ...config,
    ...(releaseKey ? { releaseKey } : {}),
    ...(deps.early?.joined ? { firstJoin: deps.early.joined } : {}),
    client,
    clock,
    log,
    signal: stop.signal,
  });
  const agent: Agent = { config, client, session, supervisor, clock, log, signal: stop.signal };
  if (runAs) agent.runAs = runAs;
  ops.instrument({ client, session, supervisor });
  agent.cas = createAgentReleaseBuilder({ ...agent, fetchTarball: artifactFetcher(agent) });
  const unwatch = config.exitWithParent ? watchParent(() => stop.abort(), log) : () => {};
  let beating = Promise.resolve();
  try {
    const intent = await readSwitchIntent(config.root);
    const join = client.token ? null : () => session.retrying("join", session.join);
    const how = {
      start: !intent,
      join,
      unshare: !runAs,
      log,
      clock,
      signal,
      ...(runAs && { runAs }),
    };
    const early = deps.early ? { started: deps.early.started, trace: deps.early.trace } : {};
    const booted = await boot({ ...config, supervisor, ...how, ...early });
    if (booted.healthy) agent.booted = booted.healthy;
    agent.cas.build = booted.afterStore(agent.cas.build);
    beating = heartbeats(agent);
    ops.start({ ...config, ...agent, token: () => client.token, retrying: session.retrying });
    let handled: number | null = null;
    if (intent) {
      log(`[agent] completing the switch to ${intent.release.id} a killed agent left under way`);
      while (handled === null)
        handled = await reconcileOnce(agent, intent.generation, intent.release, { resume: intent });
    }
    await followDesired(agent, handled);
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    stop.abort();
    signal.removeEventListener("abort", onAbort);
    unwatch();
    await beating;
    await Promise.all([supervisor.stop(), ops.stop()]);
  }
}

/** Long-polls the desired state and reconciles each new generation once. */
async function followDesired(agent: Agent, handledBefore: number | null): Promise<void> {
  const { config, client, session, signal, supervisor, clock } = agent;
  const control = createAppControl({ ...config, supervisor, clock, signal, session });
  let after = -1;
  let handled = handledBefore;
  while (!signal.aborted) {
    const state = await session.retrying("desired", () =>
      client.desired(after, LONG_POLL_SECONDS, signal),
    );
    const { generation, release, stage } = state;
    after = generation;
    if (generation === handled) continue;
    if (stage && stage.id !== release?.id) {
      agent.staged = stage.id;
      await reconcileOnce(agent, generation, stage, { staging: true });
      // A stage alone never restarts what runs; a release that differs still follows.
      if (!release || agent.supervisor.current?.releaseId === release.id) {
        handled = generation;
        continue;
      }
    }
    if (await control.apply(generation, state)) {
      handled = generation;
      continue;
    }
    if (!release) {
      const current_release = await readCurrent(config.root);
      await session.report({
        generation,
        release_id: null,
        phase: "converged",
        current_release,
        steps: [],
      });
      handled = generation;
      continue;
    }
    handled = await reconcileOnce(agent, generation, release);
    void agent.cas?.settle(); // the store's upkeep, off the deploy's path
  }
}

/**
 * One reconcile of a generation; returns the generation once it has a verdict,
 * null after a failure that is no verdict on the release (disk full,
 * permissions...), so the caller tries again after a pause.
 */
async function reconcileOnce(
  agent: Agent,
  generation: number,
  release: DesiredRelease,
  how: { resume?: SwitchIntent; staging?: boolean } = {},
): Promise<number | null> {
  const { config, session, supervisor, clock, log, signal } = agent;
  const what = how.staging ? "staging " : "";
  log(`[agent] generation ${generation}: ${what}${release.app}@${release.version} (${release.id})`);
  try {
    const final = await (how.staging ? stage : reconcile)({
      root: config.root,
      generation,
      release,
      host: config.address,
      supervisor,
      fetchArtifact: artifactFetcher(agent),
      report: session.report,
      clock,
      signal,
      ...(how.resume ? { resume: how.resume } : {}),
      ...(config.maxUnpackedBytes ? { extract: { maxBytes: config.maxUnpackedBytes } } : {}),
      ...(agent.staged ? { protect: [agent.staged] } : {}),
      ...(session.releaseKey ? { releaseKey: session.releaseKey } : {}),
      ...(agent.runAs ? { runAs: agent.runAs } : {}),
      ...(agent.cas ? { build: agent.cas.build } : {}),
      ...(agent.booted ? { booted: agent.booted } : {}),
    });
    delete agent.booted;
    log(`[agent] generation ${generation}: ${final.phase} ${final.error ?? ""}`);
    return generation;
  } catch (err) {
    if (signal.aborted) throw err;
    log(`[agent] generation ${generation}: ${messageOf(err)}`);
    await clock.sleep(5000, signal);
    return null;
  }
}

function artifactFetcher({ config, client, clock }: Agent): ArtifactFetcher {
  return (release, dest, signal) =>
    fetchArtifact({
      url: config.server.replace(/\/+$/, "") + release.artifact_path,
      token: client.token ?? "",
      releaseId: release.id,
      size: release.size,
      dest,
      clock,
      signal,
      ...(config.ca ? { ca: config.ca } : {}),
    }).then(() => undefined);
}

/** Reports what runs and whether it answers, every `heartbeatMs`, until the agent stops. */
async function heartbeats(agent: Agent): Promise<void> {
  const { config, client, session, supervisor, clock, log, signal, cas } = agent;
  // The boot's health watch passing is news: a beat then, not at the next interval, puts a
  // server from a current image in service as soon as its app answers.
  let news = false;
  let nap: AbortController | null = null;
  void agent.booted?.then((ok) => {
    if (!ok) return;
    news = true;
    nap?.abort();
  });
  while (!signal.aborted) {
    news = false;
    const app = supervisor.current;
    const healthy =
      app !== null && (await isHealthy({ host: config.address, ...app.definition, clock, signal }));
    const beat = {
      // What the app runs, not what `current` says: between switch and restart they differ.
      current_release: app?.releaseId ?? (await readCurrent(config.root)),
      app_healthy: healthy,
      app_port: app?.definition.port ?? null,
      ...(cas ? { store_bytes: cas.store.usage.bytes } : {}),
    };
    const answer = await client.heartbeat(beat, signal).catch(() => undefined); // 401s: the desired loop
    if (answer?.rotate_token) await session.rotateToken().catch((err) => log(messageOf(err)));
    if (news) continue;
    nap = new AbortController();
    const woken = AbortSignal.any([signal, nap.signal]);
    await clock.sleep(config.heartbeatMs ?? 5000, woken).catch(() => undefined);
    nap = null;
  }
}
