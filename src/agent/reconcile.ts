import { access, mkdir, rm } from "node:fs/promises";
import { giveTree, type RunAs } from "../lib/app-user.js";
import { join } from "node:path";
import { isoTime, type Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import type { StepReport } from "../wire/deployment.js";
import type { AppDefinition, HookName } from "../config/app-definition.js";
import { extractArchive, type ExtractOptions } from "../artifact/extract.js";
import { verifyReleaseSignature } from "../artifact/signing.js";
import { checkHealth } from "../runtime/health.js";
import { explainUnhealthy, loadAppSpec, loadDefinition } from "../runtime/release-app.js";
import { runHook } from "../runtime/hooks.js";
import { linkShared } from "../runtime/shared-files.js";
import type { AppSpec, Supervisor } from "../runtime/supervisor.js";
import {
  clearCurrent,
  forgetActivation,
  pruneReleases,
  readCurrent,
  releaseDir,
  releaseDirName,
  switchCurrent,
  writeSwitchIntent,
  clearSwitchIntent,
  type SwitchIntent,
} from "../lib/server-root.js";
import { failpoint } from "../lib/failpoint.js";
import type { ReleaseBuilder } from "../cas/release-builder.js";

/** Downloads the verified artifact of `release` to `dest`. */
export type ArtifactFetcher = (
  release: DesiredRelease,
  dest: string,
  signal: AbortSignal,
) => Promise<void>;

export interface ReconcileOptions {
  root: string;
  generation: number;
  release: DesiredRelease;
  /** The server's address; the app listens on it. */
  host: string;
  supervisor: Supervisor;
  fetchArtifact: ArtifactFetcher;
  /** Called as each step starts and ends, then with the final report. Must not throw. */
  report: (report: AgentReport) => void | Promise<void>;
  clock: Clock;
  signal: AbortSignal;
  /** A switch a killed agent left under way (`switching.json`): completed rather than started. */
  resume?: SwitchIntent;
  /** Releases pruning must keep besides current, previous and this one (a staged release). */
  protect?: string[];
  /** Limits of the unpacking (the agent's --max-unpacked-size). */
  extract?: ExtractOptions;
  /** The pinned release-signing key: a release must carry its signature before anything is fetched. */
  releaseKey?: string;
  /** The account hooks run as, owner of the release folders (the agent runs as root). */
  runAs?: RunAs;
  /** Builds a release from the server's file store (src/cas/) instead of fetching and extracting it. */
  build?: ReleaseBuilder;
  /** Whether the app the boot started answered its health check, watched since its spawn (runtime/boot.ts). */
  booted?: Promise<boolean>;
}

/**
 * Brings the root to `release` and returns the final report. A failure before
 * the switch changes nothing; one after it switches back to the previous
 * release, restarts it and health-checks it. The switch is a recorded intent
 * (`switching.json`, written before `current` moves, cleared after the final
 * report), so a resumed reconcile runs each hook once. Rejects only when
 * `signal` aborts. One reconcile per root at a time.
 */
export async function reconcile(options: ReconcileOptions): Promise<AgentReport> {
  const { root, release, supervisor, clock, signal, host } = options;
  const steps = createSteps(options);
  const previous = options.resume ? options.resume.previous : await readCurrent(root);
  const dir = releaseDir(root, release.id);
  let intent = options.resume ?? null;
  let definition: AppDefinition | undefined = undefined;
  steps.current = () => readCurrent(root);

  const hookStep = async (hook: HookName) => {
    const command = definition?.hooks[hook];
    if (!definition) return; // failed before validation: no hooks known
    if (!command) return void steps.record(hook, "skipped", "not defined");
    if (intent?.done.includes(hook)) {
      return void steps.record(hook, "skipped", "ran before the agent restarted");
    }
    const env = {
      ...definition.env,
      HOST: host,
      PORT: String(definition.port),
      STRATA_RELEASE_ID: release.id,
      STRATA_RELEASE_VERSION: release.version,
      STRATA_RELEASE_DIR: dir,
      STRATA_PREVIOUS_RELEASE_ID: previous ?? "",
      STRATA_HOOK: hook,
    };
    await steps.run(hook, async (entry) => {
      const runAs = options.runAs ? { runAs: options.runAs } : {};
      const result = await runHook({ ...command, ...runAs, cwd: dir, env, clock, signal });
      entry.output = result.output;
      const how = result.timedOut
        ? `timed out after ${command.timeoutMs} ms`
        : result.signal
          ? `killed by ${result.signal}`
          : `exited with ${result.exitCode}`;
      if (result.exitCode !== 0) throw new StrataError("hook_failed", `[agent] ${hook}: ${how}`);
    });
    if (intent) {
      intent.done.push(hook);
      await writeSwitchIntent(root, intent);
      failpoint(`hook.${hook}`, root);
    }
  };
  const finish = async (phase: "converged" | "failed", extra: Partial<AgentReport>) => {
    const current = await readCurrent(root);
    const protect = [current, previous, release.id, ...(options.protect ?? [])];
    const final = { ...steps.snapshot(phase, current), ...extra };
    // The switch is complete before anyone hears of it (a kill after the report must not redo it).
    await clearSwitchIntent(root);
    // Report before pruning: deleting old releases can take seconds and the deployment waits on this report.
    await options.report(final);
    await pruneReleases(root, definition?.keepReleases ?? 5, protect).catch(() => undefined);
    return final;
  };

  const running = supervisor.current;
  if (!intent && previous === release.id && running?.releaseId === release.id) {
    // Full retries: at boot the agent has just started this app from `current`.
    // The boot's watch answered first (or gave up); the check confirms the app still answers.
    const healthy =
      (await (options.booted ?? true)) &&
      (await checkHealth({ host, ...running.definition, clock, signal }).then(
        () => true,
        () => false,
      ));
    if (signal.aborted) throw signal.reason;
    if (healthy) {
      definition = running.definition;
      steps.record("health_check", "ok", `already running ${release.id}`);
      return finish("converged", { app_port: definition.port });
    }
  }

  let switched = intent !== null && (await readCurrent(root)) === release.id;
  try {
    definition = await prepare({ ...options, steps });
    const app: AppSpec = { releaseId: release.id, version: release.version, dir, definition, host };
    if (!intent) {
      await hookStep("before_switch");
      intent = { generation: options.generation, release, previous, done: [] };
      await writeSwitchIntent(root, intent);
      failpoint("switch.intent", root);
    }
    await steps.run("switch", async () => {
      await switchCurrent(root, release.id, {
        activated_at: clock.now(),
        version: release.version,
      });
      switched = true;
      failpoint("switch.recorded", root);
      return options.resume ? "completed after the agent restarted" : undefined;
    });
    await hookStep("after_switch");
    await steps.run("restart", () => supervisor.start(app));
    failpoint("restart", root);
    await steps.run("health_check", async (entry) => {
      try {
        return healthyAfter(await checkHealth({ host, ...app.definition, clock, signal }));
      } catch (err) {
        throw await explainUnhealthy(err, supervisor, root, entry);
      }
    });
    failpoint("health_check", root);
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (switched && previous !== release.id) {
      await steps.run("rollback", () => rollBack(options, previous)).catch(() => undefined);
      await forgetActivation(root, release.id);
    }
    await hookStep("on_failure").catch(() => undefined);
    return finish("failed", { error: messageOf(err) });
  }
  // The release is live and healthy; a failing on_success hook is reported but undoes nothing.
  await hookStep("on_success").catch(() => undefined);
  return finish("converged", { app_port: definition.port });
}

/**
 * Prepares `release` ahead of its switch: fetch, verify, unpack, validate.
 * Never touches `current` or the app. Returns the `staged` report, or a
 * `failed` one (release_id is the staged release) naming the problem; a
 * broken download leaves nothing on disk. Rejects only when `signal` aborts.
 */
export async function stage(options: ReconcileOptions): Promise<AgentReport> {
  const steps = createSteps(options);
  steps.current = () => readCurrent(options.root);
  let final: AgentReport;
  try {
    await prepare({ ...options, steps });
    final = steps.snapshot("staged", await readCurrent(options.root));
  } catch (err) {
    if (options.signal.aborted) throw options.signal.reason;
    final = { ...steps.snapshot("failed", await readCurrent(options.root)), error: messageOf(err) };
  }
  await options.report(final);
  return final;
}

/** The steps of one reconcile, each reported as it starts and ends. */
interface Steps {
  record(name: string, state: StepReport["state"], output?: string): StepReport;
  run(name: string, work: (entry: StepReport) => Promise<string | void>): Promise<void>;
  snapshot(phase: AgentReport["phase"], current: string | null): AgentReport;
  /** What `current` holds, for the `working` reports. */
  current: () => Promise<string | null>;
}

function createSteps(options: {
  generation: number;
  release: DesiredRelease;
  report: ReconcileOptions["report"];
  clock: Clock;
}): Steps {
  const { clock } = options;
  const list: StepReport[] = [];
  const steps: Steps = {
    current: async () => null,
    record(name, state, output) {
      const entry = { name, state, started_at: isoTime(clock.now()), duration_ms: 0, output };
      list.push(entry);
      return entry;
    },
    snapshot: (phase, current) => ({
      generation: options.generation,
      release_id: options.release.id,
      phase,
      current_release: current,
      steps: list.map((entry) => ({ ...entry })),
    }),
    async run(name, work) {
      const entry = steps.record(name, "running");
      entry.duration_ms = null;
      await options.report(steps.snapshot("working", await steps.current()));
      const started = clock.now();
      try {
        entry.output = (await work(entry)) ?? entry.output;
        entry.state = "ok";
      } catch (err) {
        entry.state = "failed";
        entry.error = messageOf(err);
        throw err;
      } finally {
        entry.duration_ms = clock.now() - started;
        await options.report(steps.snapshot("working", await steps.current()));
      }
    },
  };
  return steps;
}

/**
 * Fetches, verifies, unpacks and validates a release without switching to it
 * (a release already on disk is only validated). Returns its definition.
 */
async function prepare(options: ReconcileOptions & { steps: Steps }): Promise<AppDefinition> {
  const { root, release, signal, steps } = options;
  const dir = releaseDir(root, release.id);
  const key = options.releaseKey;
  if (key) {
    await steps.run("verify", async () => {
      verifyReleaseSignature(release, release.signature, key);
      return "ed25519 signature of the control plane";
    });
  }
  if (await exists(dir)) {
    steps.record("fetch", "skipped", "release already on disk");
    steps.record("extract", "skipped", "release already on disk");
  } else if (options.build) {
    await options.build(release, dir, (name, work) => steps.run(name, work), signal);
  } else {
    await mkdir(join(root, "tmp"), { recursive: true });
    const tarball = join(root, "tmp", `${releaseDirName(release.id)}.tar`);
    try {
      await steps.run("fetch", async () => {
        await options.fetchArtifact(release, tarball, signal);
        return `${release.size} bytes, checksum verified`;
      });
      await steps.run("extract", async () => {
        // extractArchive stages in a hidden sibling and renames it into place when complete
        const { files, bytes } = await extractArchive(tarball, dir, options.extract);
        return `${files} files, ${bytes} bytes`;
      });
    } finally {
      await rm(tarball, { force: true });
    }
  }
  if (options.runAs && !options.build) await giveTree(dir, options.runAs);
  let definition: AppDefinition | undefined;
  await steps.run("validate", async () => {
    definition = await loadDefinition(root, release.id);
    return `start ${JSON.stringify(definition.start)}, port ${definition.port}`;
  });
  const { shared } = definition!;
  if (shared.length) await steps.run("shared", () => linkShared(root, dir, shared, options.runAs));
  return definition!;
}

async function rollBack(options: ReconcileOptions, previous: string | null): Promise<string> {
  const { root, supervisor, clock, signal, host } = options;
  if (previous === null) {
    await supervisor.stop();
    await clearCurrent(root);
    return "no previous release: app stopped";
  }
  const app = await loadAppSpec(root, previous, host);
  await switchCurrent(root, previous, { activated_at: clock.now(), version: app.version });
  if (supervisor.current?.releaseId !== previous) await supervisor.start(app);
  const tries = await checkHealth({ host, ...app.definition, clock, signal });
  return `back on ${previous}, ${healthyAfter(tries)}`;
}

const healthyAfter = (tries: number) => `healthy after ${tries} ${tries === 1 ? "try" : "tries"}`;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
