import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { isoTime, type Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import { readCurrent } from "../lib/server-root.js";
import type { AgentReport, DesiredState } from "../wire/agent.js";
import type { StepReport } from "../wire/deployment.js";
import { checkHealth } from "./health.js";
import { explainUnhealthy, loadAppSpec } from "./release-app.js";
import { STOPPED_MARKER, isAppStopped } from "./current-app.js";
import type { Supervisor } from "./supervisor.js";

export interface AppControlOptions {
  /** The server root. */
  root: string;
  /** The server's address; the app listens on it. */
  address: string;
  supervisor: Supervisor;
  clock: Clock;
  signal: AbortSignal;
  /** Where reports go: called with each step and the final report. Must not throw. */
  session: { report: (report: AgentReport) => void | Promise<void> | undefined };
}

/** `strata app stop|start|restart` on one server: the app's process, not its release. */
export interface AppControl {
  /**
   * Applies a generation whose change is a stop, a start or a restart of the release that
   * `current` holds, and reports it; false when the generation is something else (a new
   * release: the reconcile's). One call at a time.
   */
  apply(generation: number, state: DesiredState): Promise<boolean>;
}

export function createAppControl(options: AppControlOptions): AppControl {
  const { root, address: host, supervisor, clock, signal } = options;
  const report = (r: AgentReport) => options.session.report(r);
  const marker = join(root, STOPPED_MARKER);
  /** The restart id last applied; undefined before the first desired state (the boot started the app). */
  let lastRestart: string | null | undefined;

  async function run(
    generation: number,
    releaseId: string,
    name: "stop" | "start" | "restart",
    work: () => Promise<number | void>,
    currentRelease: string | null = releaseId,
  ): Promise<void> {
    const started = clock.now();
    const step: StepReport = {
      name,
      state: "running",
      started_at: isoTime(started),
      duration_ms: null,
    };
    const snapshot = (phase: AgentReport["phase"], extra: Partial<AgentReport> = {}) => ({
      generation,
      release_id: releaseId,
      phase,
      current_release: currentRelease,
      steps: [{ ...step }],
      ...extra,
    });
    await report(snapshot("working"));
    try {
      const port = await work();
      step.state = "ok";
      step.duration_ms = clock.now() - started;
      await report(snapshot("converged", port ? { app_port: port } : {}));
    } catch (err) {
      if (signal.aborted) throw err;
      step.state = "failed";
      step.error = messageOf(err);
      step.duration_ms = clock.now() - started;
      await report(snapshot("failed", { error: messageOf(err) }));
    }
  }

  async function stopAndMark(): Promise<void> {
    await supervisor.stop();
    await writeFile(marker, `${isoTime(clock.now())}\n`);
  }

  /** Starts (or restarts) what `current` holds and waits for its health check; returns its port. */
  async function startCurrent(releaseId: string): Promise<number> {
    const spec = await loadAppSpec(root, releaseId, host);
    await supervisor.start(spec);
    const entry: StepReport = {
      name: "health_check",
      state: "running",
      started_at: "",
      duration_ms: null,
    };
    try {
      await checkHealth({ host, ...spec.definition, clock, signal });
    } catch (err) {
      throw await explainUnhealthy(err, supervisor, root, entry);
    }
    return spec.definition.port;
  }

  return {
    async apply(generation, state) {
      const first = lastRestart === undefined;
      const restart = state.restart ?? null;
      const previousRestart = lastRestart;
      lastRestart = restart;
      const current = await readCurrent(root);
      if (!state.release) return false;
      if (current !== state.release.id) {
        // Regression: a server that joined a stopped group reconciled and started its app.
        // It keeps what it has, stopped; `strata app start` brings it to the release.
        if (state.stopped) {
          await run(generation, state.release.id, "stop", () => stopAndMark(), current);
          return true;
        }
        await rm(marker, { force: true }); // the reconcile starts the app
        return false;
      }
      const releaseId = current;
      if (state.stopped) {
        await run(generation, releaseId, "stop", () => stopAndMark());
        return true;
      }
      if (await isAppStopped(root)) {
        await run(generation, releaseId, "start", async () => {
          await rm(marker, { force: true });
          return startCurrent(releaseId);
        });
        return true;
      }
      // Started at boot before the agent could fetch its secrets (a server from an image
      // that has not joined yet): restarted once the control plane answers, unless the app
      // has none (issue 13: that restart took most of a current image's service-in).
      const needsSecrets =
        supervisor.secretsMissing &&
        supervisor.current?.releaseId === releaseId &&
        (await supervisor.recheckSecrets());
      if (needsSecrets || (!first && restart !== null && restart !== previousRestart)) {
        await run(generation, releaseId, "restart", () => startCurrent(releaseId));
        return true;
      }
      return false;
    },
  };
}
