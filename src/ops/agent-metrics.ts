import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { StrataError, messageOf } from "../lib/errors.js";
import { CONTENT_TYPE, createMetricsRegistry } from "../lib/metrics/registry.js";
import type { AppExit } from "../runtime/supervisor.js";
import type { AgentReport } from "../wire/agent.js";

/** Step durations are seconds: a fetch of a large release or a slow health check, up to minutes. */
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;

/** What an agent counts for its `/metrics` (Prometheus text format). Cheap: always on. */
export interface AgentMetrics {
  /** A report the agent sends: each finished step's duration, a final phase's outcome. */
  report(report: AgentReport): void;
  /** `send`, counting each report with `report()` first. */
  observed<R>(send: (report: AgentReport) => R): (report: AgentReport) => R;
  /** The app ended on its own (the supervisor restarts it). */
  appExited(exit: AppExit): void;
  /** One heartbeat's health check of the running app. */
  healthChecked(healthy: boolean): void;
  /** A release the agent may fetch: its size counts once its fetch step succeeds. */
  sized(release: { id: string; size: number }): void;
  render(): Promise<string>;
}

export function createAgentMetrics(labels: { server: string; group: string }): AgentMetrics {
  const registry = createMetricsRegistry();
  const steps = registry.histogram(
    "strata_agent_step_duration_seconds",
    "Duration of the agent's deploy steps (fetch, unpack, hooks, switch, restart, health check), by step and state",
    STEP_BUCKETS,
  );
  const outcomes = registry.counter(
    "strata_agent_deploys_total",
    "Generations the agent finished, by outcome (converged, failed, staged)",
  );
  const restarts = registry.counter(
    "strata_agent_app_restarts_total",
    "Times the app ended on its own and was restarted by the agent",
  );
  const health = registry.counter(
    "strata_agent_health_checks_total",
    "Heartbeat health checks of the running app, by result (pass, fail)",
  );
  const fetchBytes = registry.counter(
    "strata_agent_fetch_bytes_total",
    "Bytes of release artifacts fetched and verified",
  );
  registry.gauge("strata_agent_info", "The agent's server and group (always 1)", async () => [
    [labels, 1],
  ]);
  // A report carries every step of its generation so far: each is counted once, when it ends.
  const seen = new Set<string>();
  let generation = -1;
  const sizes = new Map<string, number>();
  return {
    report(report) {
      if (report.generation !== generation) seen.clear();
      generation = report.generation;
      for (const step of report.steps) {
        const key = `${step.name}/${step.started_at}`;
        if (step.state === "running" || step.duration_ms === null || seen.has(key)) continue;
        seen.add(key);
        steps.observe({ step: step.name, state: step.state }, step.duration_ms / 1000);
        if (step.name === "fetch" && step.state === "ok" && report.release_id) {
          fetchBytes.inc({}, sizes.get(report.release_id) ?? 0);
        }
      }
      if (report.phase !== "working") outcomes.inc({ outcome: report.phase });
    },
    observed(send) {
      return (report) => {
        this.report(report);
        return send(report);
      };
    },
    appExited: () => restarts.inc(),
    healthChecked: (healthy) => health.inc({ result: healthy ? "pass" : "fail" }),
    sized(release) {
      if (sizes.size > 100) sizes.clear();
      sizes.set(release.id, release.size);
    },
    render: () => registry.render(),
  };
}

/**
 * `host:port` of `--metrics-address`, or `:port` for the server's own address
 * (`defaultHost`); throws `bad_request` naming the flag.
 */
export function parseMetricsAddress(
  value: string,
  defaultHost = "127.0.0.1",
): { host: string; port: number } {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-fA-F:]+\])?:(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65_535) {
    throw new StrataError(
      "bad_request",
      `[agent] --metrics-address: expected host:port like 127.0.0.1:9100 or :9100 (the server's address), got "${value}"`,
    );
  }
  return { host: (match[1] ?? defaultHost).replace(/^\[|\]$/g, ""), port };
}

/** Serves `GET /metrics` on `address` until closed; other paths get 404. */
export async function serveMetrics(
  address: { host: string; port: number },
  metrics: AgentMetrics,
  log: (line: string) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { "content-type": CONTENT_TYPE }).end(text),
      (err) => res.writeHead(500, { "content-type": "text/plain" }).end(`${messageOf(err)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  log(`[agent] metrics on http://${address.host}:${port}/metrics`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
