import type { Store } from "../../store/store.js";
import type { AgentReport } from "../../wire/agent.js";
import { createMetricsRegistry } from "../../lib/metrics/registry.js";

/** What the control plane measures; each method is fed by one part (see control-plane.ts). */
export interface ControlPlaneMetrics {
  /** Every audit entry: deployment outcomes and durations, scaling actions. */
  audit(action: string, detail: Record<string, unknown>): void;
  /** Every agent report: step durations, each step counted once. */
  report(server: string, report: AgentReport): void;
  /** Each wave's outcome. */
  wave(ok: boolean): void;
  /** Each request the load balancer answered. */
  request(group: string, status: number): void;
  /** `GET /metrics`: the Prometheus text exposition. */
  render(): Promise<string>;
}

export interface ControlPlaneMetricsOptions {
  /** Read at scrape time for servers by state. */
  store: Store;
  /** strata's version, in `strata_build_info`. */
  version: string;
  /**
   * Read at scrape time: requests per group and status class counted by a
   * balancer that runs in its own process (the local daemon), since it started.
   */
  balancerTotals?: () => Promise<Record<string, Record<string, number>>>;
}

const DEPLOY_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800];
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const OUTCOME = /^(deploy|rollback)\.(succeeded|failed|rolled_back)$/;

export function createControlPlaneMetrics(
  options: ControlPlaneMetricsOptions,
): ControlPlaneMetrics {
  const { store } = options;
  /** Daemon totals already counted, per group and class. */
  const counted = new Map<string, number>();
  const registry = createMetricsRegistry();
  registry.gauge("strata_build_info", "strata's version", async () => [
    [{ version: options.version }, 1],
  ]);
  const deployments = registry.counter(
    "strata_deployments_total",
    "Deployments finished, by kind (deploy, rollback) and final state",
  );
  const deployDuration = registry.histogram(
    "strata_deployment_duration_seconds",
    "Time from a deployment's start to its end, by kind and final state",
    DEPLOY_BUCKETS,
  );
  const stepDuration = registry.histogram(
    "strata_deploy_step_duration_seconds",
    "Duration of agents' reconcile steps (fetch, extract, hooks, switch, restart, health_check), by step and result",
    STEP_BUCKETS,
  );
  const waves = registry.counter("strata_deploy_waves_total", "Deployment waves, by outcome");
  const requests = registry.counter(
    "strata_balancer_requests_total",
    "Requests the load balancer answered, by group and status class",
  );
  const errors = registry.counter(
    "strata_balancer_errors_total",
    "Requests the load balancer answered with a 5xx (502: no member could answer), by group",
  );
  const scaling = registry.counter(
    "strata_scaling_actions_total",
    "Servers launched or terminated (fleet up/scale/down and the scaler), by action",
  );
  registry.gauge("strata_servers", "Servers by group and state", async () => {
    const counts = new Map<string, { group: string; state: string; n: number }>();
    for (const s of await store.servers.list()) {
      const key = `${s.group}\u0000${s.state}`;
      const entry = counts.get(key) ?? { group: s.group, state: s.state, n: 0 };
      entry.n++;
      counts.set(key, entry);
    }
    return [...counts.values()].map((c) => [{ group: c.group, state: c.state }, c.n]);
  });
  registry.gauge(
    "strata_servers_in_service",
    "Servers in the load balancer, by group",
    async () => {
      const counts = new Map<string, number>();
      for (const s of await store.servers.list())
        counts.set(s.group, (counts.get(s.group) ?? 0) + (s.in_service ? 1 : 0));
      return [...counts].map(([group, n]) => [{ group }, n]);
    },
  );

  // Agents resend every step with each report: count a step once per server and generation.
  const seen = new Set<string>();
  return {
    audit(action, detail) {
      if (action === "server.launch") scaling.inc({ action: "launch" });
      else if (action === "server.terminate") scaling.inc({ action: "terminate" });
      const outcome = OUTCOME.exec(action);
      if (!outcome) return;
      const labels = { kind: outcome[1]!, state: outcome[2]! };
      deployments.inc(labels);
      const id = detail.deployment;
      if (typeof id !== "string") return;
      void store.deployments
        .get(id)
        .then((d) => {
          if (d?.finished_at != null)
            deployDuration.observe(labels, (d.finished_at - d.created_at) / 1000);
        })
        .catch(() => undefined);
    },
    report(server, report) {
      if (seen.size > 100_000) seen.clear();
      for (const step of report.steps) {
        if ((step.state !== "ok" && step.state !== "failed") || step.duration_ms === null) continue;
        const key = `${server}/${report.generation}/${step.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        stepDuration.observe({ step: step.name, result: step.state }, step.duration_ms / 1000);
      }
    },
    wave(ok) {
      waves.inc({ outcome: ok ? "succeeded" : "failed" });
    },
    request(group, status) {
      // In-process balancers only; the daemon's requests arrive as totals at scrape time.
      requests.inc({ group, class: `${Math.floor(status / 100)}xx` });
      if (status >= 500) errors.inc({ group });
    },
    async render() {
      const totals = await options.balancerTotals?.().catch(() => null);
      for (const [group, byClass] of Object.entries(totals ?? {})) {
        for (const [cls, n] of Object.entries(byClass)) {
          const key = `${group}/${cls}`;
          const seen = counted.get(key) ?? 0;
          // Fewer than seen: the daemon restarted and counts from zero again.
          const delta = n >= seen ? n - seen : n;
          counted.set(key, n);
          if (delta === 0) continue;
          requests.inc({ group, class: cls }, delta);
          if (cls === "5xx") errors.inc({ group }, delta);
        }
      }
      return registry.render();
    },
  };
}
