import { randomUUID } from "node:crypto";
import { StrataError } from "../lib/errors.js";
import type { AgentTask, TaskEnd, TaskOutput, TaskSpec } from "../wire/ops.js";

/**
 * The channel between callers of the API and agents, which the control plane
 * cannot reach: a caller opens a task for a server, the agent picks it up on
 * its task long poll and posts the output back, which the caller reads as it
 * arrives. In memory: a task lives as long as its caller waits on it (an
 * agent must long-poll the replica that holds its tasks; agents are sticky).
 */
export interface TaskHub {
  /**
   * Queues a task for `server` and yields its output until the agent ends it.
   * Throws `unavailable` when the agent sends nothing (not even a keepalive)
   * for `idleTimeoutMs`: it is down, or gone. Leaving the loop or aborting
   * `signal` cancels the task (the agent's next post gets 404).
   */
  run(server: string, spec: TaskSpec, signal: AbortSignal): AsyncGenerator<TaskChunk>;
  /** The agent's long poll: tasks queued for `server`, waiting up to `waitMs` for one. */
  take(server: string, waitMs: number, signal: AbortSignal): Promise<AgentTask[]>;
  /** An agent's post: false when nobody waits for the task any more (404). */
  deliver(server: string, id: string, output: TaskOutput): boolean;
}

export type TaskChunk = { data: string } | { end: TaskEnd };

export interface TaskHubOptions {
  /** A task whose agent sends nothing for this long fails. @default 15000 */
  idleTimeoutMs?: number;
  /** Output a slow reader may leave queued; beyond it chunks are dropped (and that said). @default 4 MiB */
  maxQueuedBytes?: number;
}

interface Open {
  server: string;
  chunks: TaskChunk[];
  queuedBytes: number;
  dropped: number;
  wake: () => void;
  lastHeard: number;
}

export function createTaskHub(options: TaskHubOptions = {}): TaskHub {
  const idleMs = options.idleTimeoutMs ?? 15_000;
  const maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
  const queued = new Map<string, AgentTask[]>();
  const pollers = new Map<string, Set<() => void>>();
  const open = new Map<string, Open>();

  const wakePollers = (server: string) => {
    for (const wake of pollers.get(server) ?? []) wake();
  };

  return {
    async *run(server, spec, signal) {
      const task = { ...spec, id: randomUUID(), keepalive_ms: Math.max(100, idleMs / 3) };
      let wake = () => {};
      const state: Open = {
        server,
        chunks: [],
        queuedBytes: 0,
        dropped: 0,
        wake: () => wake(),
        lastHeard: Date.now(),
      };
      open.set(task.id, state);
      queued.set(server, [...(queued.get(server) ?? []), task as AgentTask]);
      wakePollers(server);
      const onAbort = () => wake();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          const chunk = state.chunks.shift();
          if (chunk) {
            if ("data" in chunk) state.queuedBytes -= chunk.data.length;
            yield chunk;
            if ("end" in chunk) return;
            continue;
          }
          if (signal.aborted) return;
          const quietMs = Date.now() - state.lastHeard;
          if (quietMs >= idleMs) {
            throw new StrataError(
              "unavailable",
              `[ops] ${server}: no answer from its agent for ${Math.round(quietMs / 1000)} s (down or gone)`,
            );
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, idleMs - quietMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = () => {};
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        open.delete(task.id);
        const left = (queued.get(server) ?? []).filter((t) => t.id !== task.id);
        if (left.length > 0) queued.set(server, left);
        else queued.delete(server);
      }
    },

    async take(server, waitMs, signal) {
      const ready = () => {
        const tasks = queued.get(server) ?? [];
        queued.delete(server);
        return tasks;
      };
      if (queued.has(server) || waitMs <= 0) return ready();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          pollers.get(server)?.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal.addEventListener("abort", done, { once: true });
        pollers.set(server, (pollers.get(server) ?? new Set()).add(done));
      });
      if (pollers.get(server)?.size === 0) pollers.delete(server);
      return signal.aborted ? [] : ready();
    },

    deliver(server, id, output) {
      const state = open.get(id);
      if (!state || state.server !== server) return false;
      state.lastHeard = Date.now();
      const tellDropped = () => {
        if (state.dropped === 0) return;
        state.chunks.push({ data: `[strata] ${state.dropped} bytes dropped: read too slowly\n` });
        state.dropped = 0;
      };
      if (output.data) {
        if (state.queuedBytes + output.data.length > maxQueued) {
          state.dropped += output.data.length;
        } else {
          tellDropped();
          state.chunks.push({ data: output.data });
          state.queuedBytes += output.data.length;
        }
      }
      if (output.end) {
        tellDropped();
        state.chunks.push({ end: output.end });
      }
      state.wake();
      return true;
    },
  };
}
