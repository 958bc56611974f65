import type { Deployer } from "../deploy/deployer.js";
import { isoTime } from "../lib/clock.js";
import type { AuditEntry, Store } from "../store/store.js";
import type { AgentReport } from "../wire/agent.js";
import { topicOf, type EventHub } from "./event-hub.js";

export interface LiveEventsOptions {
  hub: EventHub;
  store: Store;
  deployer: Deployer;
  /** How often heartbeat times are sent while someone watches. @default 5000 */
  heartbeatsEveryMs?: number;
}

/** Publishes an audit entry (already stored) on the hub under its topic. */
export function publishAudit(hub: EventHub, entry: Omit<AuditEntry, "id">): void {
  hub.publish(topicOf(entry.action), { audit: { ...entry, at: isoTime(entry.at) } });
}

/**
 * Feeds the hub from the parts that change state without an audit entry: agent
 * reports (each step of each server), a running deployment's progress, and
 * heartbeat times. Returns the function that stops it all.
 */
export interface LiveEvents {
  /** Publishes an agent report's last step; called by the fleet for every report. */
  onReport(server: string, report: AgentReport): void;
  stop(): void;
}

export function startLiveEvents(options: LiveEventsOptions): LiveEvents {
  const { hub, store, deployer } = options;
  const onReport = (server: string, report: AgentReport) => {
    const step = report.steps[report.steps.length - 1];
    hub.publish("server", {
      server,
      phase: report.phase,
      ...(step ? { step: step.name, state: step.state } : {}),
    });
  };

  // The deployer streams progress per deployment: follow each one from its start entry.
  const following = new Map<string, () => void>();
  const unsubscribeHub = hub.subscribe((event) => {
    const audit = event.data.audit as { action?: string; detail?: { deployment?: unknown } };
    const id = audit?.detail?.deployment;
    if (!audit?.action?.endsWith(".start") || typeof id !== "string" || following.has(id)) return;
    following.set(
      id,
      deployer.subscribe(id, (progress) => {
        if (progress.type === "snapshot") return;
        if (progress.type === "done") {
          following.get(id)?.();
          following.delete(id);
          return hub.publish("deployment", { deployment: id, type: "done" });
        }
        hub.publish("deployment", {
          deployment: id,
          type: progress.type,
          ...(progress.type === "wave" ? { wave: progress.wave } : {}),
          ...(progress.type === "server" ? { server: progress.server, state: progress.state } : {}),
        });
      }),
    );
  });

  // Listeners beyond this module's own are streams someone is watching.
  const own = hub.listeners();
  let sent = new Map<string, number | null>();
  const heartbeats = setInterval(async () => {
    if (hub.listeners() <= own) return;
    const changed: Record<string, string | null> = {};
    const next = new Map<string, number | null>();
    for (const server of await store.servers.list().catch(() => [])) {
      next.set(server.name, server.last_heartbeat);
      if (sent.get(server.name) !== server.last_heartbeat) {
        changed[server.name] =
          server.last_heartbeat === null ? null : isoTime(server.last_heartbeat);
      }
    }
    sent = next;
    if (Object.keys(changed).length > 0) hub.publish("heartbeats", { servers: changed });
  }, options.heartbeatsEveryMs ?? 5000);
  heartbeats.unref();

  return {
    onReport,
    stop() {
      clearInterval(heartbeats);
      unsubscribeHub();
      for (const stop of following.values()) stop();
      following.clear();
    },
  };
}
