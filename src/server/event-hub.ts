import { randomBytes } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import type { DashboardEvent, DashboardTopic } from "../wire/dashboard.js";

export interface EventHubOptions {
  clock: Clock;
  /** Events kept for clients that reconnect. @default 5000 */
  capacity?: number;
}

/**
 * The control plane's recent events, for the dashboard's live stream. In memory:
 * a client that reconnects within the last `capacity` events catches up exactly;
 * one that is further behind (or whose id is from before a restart) gets a `reset`.
 */
export interface EventHub {
  /** Records an event and hands it to every listener. Synchronous; never throws. */
  publish(topic: DashboardTopic, data: Record<string, unknown>): DashboardEvent;
  /**
   * The events after `lastId`, oldest first; null when they are no longer all
   * here (evicted, or the id is from another boot). Read-only.
   */
  since(lastId: string): DashboardEvent[] | null;
  /** Calls `listener` for every event published from now on; returns the unsubscribe. */
  subscribe(listener: (event: DashboardEvent) => void): () => void;
  /** Number of listeners, so costly sources can run only while someone watches. */
  listeners(): number;
  /** The id of the newest event, or `<boot>-0` before the first. */
  lastId(): string;
}

export function createEventHub(options: EventHubOptions): EventHub {
  const capacity = options.capacity ?? 5000;
  const boot = randomBytes(4).toString("hex");
  const ring: DashboardEvent[] = [];
  const listeners = new Set<(event: DashboardEvent) => void>();
  let seq = 0;

  return {
    publish(topic, data) {
      const event: DashboardEvent = {
        id: `${boot}-${++seq}`,
        topic,
        at: options.clock.now(),
        data,
      };
      ring.push(event);
      if (ring.length > capacity) ring.shift();
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          console.error("[server] event listener failed:", err);
        }
      }
      return event;
    },
    since(lastId) {
      const match = /^([0-9a-f]+)-(\d+)$/.exec(lastId);
      if (!match || match[1] !== boot) return null;
      const after = Number(match[2]);
      if (after > seq) return null;
      if (after === seq) return [];
      const oldest = ring[0] ? Number(ring[0].id.split("-")[1]) : seq + 1;
      if (after + 1 < oldest) return null;
      return ring.slice(after + 1 - oldest);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    listeners: () => listeners.size,
    lastId: () => `${boot}-${seq}`,
  };
}

/** Which dashboard topic an audit action belongs to. */
export function topicOf(action: string): DashboardTopic {
  const head = action.split(".")[0];
  switch (head) {
    case "deploy":
    case "rollback":
      return "deployment";
    case "server":
    case "agent":
      return action === "server.start" || action === "server.stop" ? "audit" : "server";
    case "image":
      return "image";
    case "release":
      return "release";
    case "forecast":
      return "forecast";
    case "scale":
      return "scale";
    default:
      return "audit";
  }
}
