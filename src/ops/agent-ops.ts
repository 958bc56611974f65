import { join } from "node:path";
import type { RunAs } from "../lib/app-user.js";
import type { Clock } from "../lib/clock.js";
import { messageOf } from "../lib/errors.js";
import { createLog } from "../lib/log.js";
import { createRotatingWriter } from "../runtime/log-rotation.js";
import {
  createAgentMetrics,
  parseMetricsAddress,
  serveMetrics,
  type AgentMetrics,
} from "./agent-metrics.js";
import { AGENT_LOG, runAgentTasks } from "./agent-tasks.js";
import type { ControlPlaneClient } from "../agent/control-plane-client.js";
import type { Session } from "../agent/session.js";
import type { Supervisor } from "../runtime/supervisor.js";

/** The agent's day-two settings (flags of `strata agent`). */
export interface AgentOpsConfig {
  /** `host:port` where the agent serves Prometheus `/metrics`. @default off */
  metricsAddress?: string;
}

/** `--metrics-address` in the agent's usage text. */
export const AGENT_OPS_USAGE = `  --metrics-address [HOST]:PORT
                       serve Prometheus /metrics there; no HOST: the --address (env
                       STRATA_METRICS_ADDRESS; default off)`;

/** The flag's value, checked; throws `bad_request` naming the flag. */
export function agentOpsConfig(metricsAddress: string | undefined): AgentOpsConfig {
  if (!metricsAddress) return {};
  parseMetricsAddress(metricsAddress);
  return { metricsAddress };
}

/** What the agent's session hands over once it has joined. */
export interface AgentOpsSession {
  server: string;
  ca?: string;
  token(): string | null;
  joinToken?: string;
  retrying<T>(what: string, work: () => Promise<T>): Promise<T>;
  address: string;
  runAs?: RunAs;
  clock: Clock;
  signal: AbortSignal;
}

/**
 * The agent's day-two side, kept out of src/agent/: its own log (stderr and
 * `<root>/logs/agent.log`, rotated), the task channel (`strata logs`,
 * `strata exec`) and `/metrics`.
 */
export interface AgentOps {
  /** One line of the agent's log. */
  readonly log: (line: string) => void;
  readonly metrics: AgentMetrics;
  /**
   * Counts what the agent does for `/metrics`, by wrapping what it already
   * calls: reports, heartbeats, the desired state (release sizes), app exits.
   * Called once, before the agent's loops start.
   */
  instrument(parts: { client: ControlPlaneClient; session: Session; supervisor: Supervisor }): void;
  /** Starts pulling tasks and serving metrics; runs until the session's signal aborts. */
  start(session: AgentOpsSession): void;
  /** Resolves when the task loop and the metrics listener are done. */
  stop(): Promise<void>;
}

export function createAgentOps(config: {
  root: string;
  name: string;
  group: string;
  address: string;
  metricsAddress?: string;
}): AgentOps {
  const stderr = createLog({ component: "agent" });
  const file = createLog({
    component: "agent",
    json: true,
    stream: { write: createRotatingWriter(join(config.root, AGENT_LOG)) },
  });
  const log = (line: string) => {
    stderr.info(line);
    file.info(line);
  };
  const metrics = createAgentMetrics({ server: config.name, group: config.group });
  const running: Promise<unknown>[] = [];
  return {
    log,
    metrics,
    instrument({ client, session, supervisor }) {
      supervisor.onExit(metrics.appExited);
      const { heartbeat, desired } = client;
      client.heartbeat = (beat, signal) => {
        if (beat.app_port !== null) metrics.healthChecked(beat.app_healthy);
        return heartbeat(beat, signal);
      };
      client.desired = async (after, waitSeconds, signal) => {
        const state = await desired(after, waitSeconds, signal);
        for (const release of [state.release, state.stage]) if (release) metrics.sized(release);
        return state;
      };
      session.report = metrics.observed(session.report);
    },
    start(session) {
      running.push(
        runAgentTasks({
          ...session,
          root: config.root,
          log,
          secrets: () => [session.token() ?? "", session.joinToken ?? ""],
        }).catch((err) => log(`[agent] tasks: ${messageOf(err)}`)),
      );
      if (!config.metricsAddress) return;
      const address = parseMetricsAddress(config.metricsAddress, config.address);
      running.push(
        serveMetrics(address, metrics, log).then(
          async (listener) => {
            await new Promise((resolve) =>
              session.signal.addEventListener("abort", resolve, { once: true }),
            );
            await listener.close();
          },
          (err) =>
            log(`[agent] metrics: cannot listen on ${config.metricsAddress}: ${messageOf(err)}`),
        ),
      );
    },
    async stop() {
      await Promise.all(running);
    },
  };
}
