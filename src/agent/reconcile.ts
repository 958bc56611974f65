import { access, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { isoTime, type Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import type { StepReport } from "../wire/deployment.js";
import { parseAppDefinition, type AppDefinition, type HookName } from "../config/app-definition.js";
import { extractArchive } from "../artifact/extract.js";
import { checkHealth } from "./health.js";
import { runHook } from "./hooks.js";
import type { AppSpec, Supervisor } from "./supervisor.js";
import {
  clearCurrent,
  forgetActivation,
  pruneReleases,
  readActivations,
  readCurrent,
  releaseDir,
  releaseDirName,
  switchCurrent,
} from "../lib/server-root.js";

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
}

/**
 * Brings the root to `release` and returns the final report. A failure before
 * the switch changes nothing; one after it switches back to the previous
 * release, restarts it and health-checks it. Rejects only when `signal`
 * aborts. One reconcile per root at a time.
 */
export async function reconcile(options: ReconcileOptions): Promise<AgentReport> {
  const { root, release, supervisor, clock, signal, host } = options;
  const steps: StepReport[] = [];
  const previous = await readCurrent(root);
  const dir = releaseDir(root, release.id);
  let definition: AppDefinition | undefined = undefined;
  let switched = false;

  const snapshot = (phase: AgentReport["phase"], current: string | null): AgentReport => ({
    generation: options.generation,
    release_id: release.id,
    phase,
    current_release: current,
    steps: steps.map((entry) => ({ ...entry })),
  });
  const record = (name: string, state: StepReport["state"], output?: string): StepReport => {
    const entry = { name, state, started_at: isoTime(clock.now()), duration_ms: 0, output };
    steps.push(entry);
    return entry;
  };
  const step = async (name: string, work: (entry: StepReport) => Promise<string | void>) => {
    const entry = record(name, "running");
    entry.duration_ms = null;
    await options.report(snapshot("working", switched ? release.id : previous));
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
      await options.report(snapshot("working", switched ? release.id : previous));
    }
  };
  const hookStep = async (hook: HookName) => {
    const command = definition?.hooks[hook];
    if (!definition) return; // failed before validation: no hooks known
    if (!command) return void record(hook, "skipped", "not defined");
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
    await step(hook, async (entry) => {
      const result = await runHook({ ...command, cwd: dir, env, clock, signal });
      entry.output = result.output;
      const how = result.timedOut
        ? `timed out after ${command.timeoutMs} ms`
        : result.signal
          ? `killed by ${result.signal}`
          : `exited with ${result.exitCode}`;
      if (result.exitCode !== 0) throw new StrataError("hook_failed", `[agent] ${hook}: ${how}`);
    });
  };
  const finish = async (phase: "converged" | "failed", extra: Partial<AgentReport>) => {
    const current = await readCurrent(root);
    const protect = [current, previous, release.id];
    const final = { ...snapshot(phase, current), ...extra };
    // Report first: deleting old releases can take seconds and the deployment waits on this report.
    await options.report(final);
    await pruneReleases(root, definition?.keepReleases ?? 5, protect).catch(() => undefined);
    return final;
  };

  const running = supervisor.current;
  if (previous === release.id && running?.releaseId === release.id) {
    // Full retries: at boot the agent has just started this app from `current`.
    const healthy = await checkHealth({ host, ...running.definition, clock, signal }).then(
      () => true,
      () => false,
    );
    if (signal.aborted) throw signal.reason;
    if (healthy) {
      definition = running.definition;
      record("health_check", "ok", `already running ${release.id}`);
      return finish("converged", { app_port: definition.port });
    }
  }

  try {
    if (await exists(dir)) {
      record("fetch", "skipped", "release already on disk");
      record("extract", "skipped", "release already on disk");
    } else {
      await mkdir(join(root, "tmp"), { recursive: true });
      const tarball = join(root, "tmp", `${releaseDirName(release.id)}.tar`);
      try {
        await step("fetch", async () => {
          await options.fetchArtifact(release, tarball, signal);
          return `${release.size} bytes, checksum verified`;
        });
        await step("extract", async () => {
          // extractArchive stages in a hidden sibling and renames it into place when complete
          const { files, bytes } = await extractArchive(tarball, dir);
          return `${files} files, ${bytes} bytes`;
        });
      } finally {
        await rm(tarball, { force: true });
      }
    }
    await step("validate", async () => {
      definition = await loadDefinition(root, release.id);
      return `start ${JSON.stringify(definition.start)}, port ${definition.port}`;
    });
    const app: AppSpec = {
      releaseId: release.id,
      version: release.version,
      dir,
      definition: definition!,
      host,
    };
    await hookStep("before_switch");
    await step("switch", async () => {
      await switchCurrent(root, release.id, {
        activated_at: clock.now(),
        version: release.version,
      });
      switched = true;
    });
    await hookStep("after_switch");
    await step("restart", () => supervisor.start(app));
    await step("health_check", async () =>
      healthyAfter(await checkHealth({ host, ...app.definition, clock, signal })),
    );
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (switched && previous !== release.id) {
      await step("rollback", () => rollBack(options, previous)).catch(() => undefined);
      await forgetActivation(root, release.id);
    }
    await hookStep("on_failure").catch(() => undefined);
    return finish("failed", { error: messageOf(err) });
  }
  // The release is live and healthy; a failing on_success hook is reported but undoes nothing.
  await hookStep("on_success").catch(() => undefined);
  return finish("converged", { app_port: definition!.port });
}

/**
 * Fetches, verifies, unpacks and validates `release` without switching to it
 * or touching the running app, and returns the final report (`staged` or
 * `failed`). A deployment stages every server before it takes any out of service.
 */
export async function stageRelease(
  options: Omit<ReconcileOptions, "supervisor" | "host">,
): Promise<AgentReport> {
  const { root, release, clock, signal } = options;
  const steps: StepReport[] = [];
  const current = await readCurrent(root);
  const dir = releaseDir(root, release.id);
  const report = (phase: AgentReport["phase"], error?: string): AgentReport => ({
    generation: options.generation,
    release_id: release.id,
    phase,
    current_release: current,
    steps: steps.map((entry) => ({ ...entry })),
    ...(error ? { error } : {}),
  });
  const step = async (name: string, work: () => Promise<string>) => {
    const entry: StepReport = {
      name: `stage_${name}`,
      state: "running",
      started_at: isoTime(clock.now()),
      duration_ms: null,
    };
    steps.push(entry);
    const started = clock.now();
    try {
      entry.output = await work();
      entry.state = "ok";
    } catch (err) {
      entry.state = "failed";
      entry.error = messageOf(err);
      throw err;
    } finally {
      entry.duration_ms = clock.now() - started;
    }
  };
  try {
    if (!(await exists(dir))) {
      await mkdir(join(root, "tmp"), { recursive: true });
      const tarball = join(root, "tmp", `${releaseDirName(release.id)}.tar`);
      try {
        await step("fetch", async () => {
          await options.fetchArtifact(release, tarball, signal);
          return `${release.size} bytes, checksum verified`;
        });
        await step("extract", async () => {
          const { files, bytes } = await extractArchive(tarball, dir);
          return `${files} files, ${bytes} bytes`;
        });
      } finally {
        await rm(tarball, { force: true });
      }
    }
    await step("validate", async () => {
      const definition = await loadDefinition(root, release.id);
      return `start ${JSON.stringify(definition.start)}, port ${definition.port}`;
    });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const final = report("failed", messageOf(err));
    await options.report(final);
    return final;
  }
  const final = report("staged");
  await options.report(final);
  return final;
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

/** Reads and validates the `strata.yaml` of an unpacked release. */
export async function loadDefinition(root: string, releaseId: string): Promise<AppDefinition> {
  const source = `${releaseDirName(releaseId)}/strata.yaml`;
  const text = await readFile(join(releaseDir(root, releaseId), "strata.yaml"), "utf8").catch(
    (err: unknown) => {
      throw new StrataError("invalid_config", `[agent] validate: ${source} is missing`, {
        cause: err,
      });
    },
  );
  return parseAppDefinition(text, source);
}

/** What the supervisor needs to run an unpacked release (at boot, or when rolling back). */
export async function loadAppSpec(root: string, releaseId: string, host: string): Promise<AppSpec> {
  const version = (await readActivations(root))[releaseId]?.version ?? "unknown";
  const definition = await loadDefinition(root, releaseId);
  return { releaseId, version, dir: releaseDir(root, releaseId), definition, host };
}

const healthyAfter = (tries: number) => `healthy after ${tries} ${tries === 1 ? "try" : "tries"}`;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
