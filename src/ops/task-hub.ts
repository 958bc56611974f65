import { randomUUID } from "node:crypto";
import { StrataError } from "../lib/errors.js";
import type { AgentTask, TaskEnd, TaskOutput, TaskSpec } from "../wire/ops.js";
import type { TaskChannel } from "../coord/coordinator.js";
import { createLocalTasks } from "../coord/local/local-tasks.js";

/**
 * The channel between callers of the API and agents, which the control plane
 * cannot reach: a caller opens a task for a server, the agent picks it up on
 * its task long poll and posts the output back, which the caller reads as it
 * arrives. The tasks travel through the Coordinator's task channel, so the
 * agent may long-poll and post to any replica (embedded: in memory).
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
  deliver(server: string, id: string, output: TaskOutput): Promise<boolean>;
}

export type TaskChunk = { data: string } | { end: TaskEnd };

export interface TaskHubOptions {
  /** Where tasks and their output travel (the Coordinator's). @default in memory, one control plane */
  channel?: TaskChannel;
  /** A task whose agent sends nothing for this long fails. @default 15000 */
  idleTimeoutMs?: number;
  /** Output a slow reader may leave queued; beyond it chunks are dropped (and that said). @default 4 MiB */
  maxQueuedBytes?: number;
}

interface Open {
  chunks: TaskChunk[];
  queuedBytes: number;
  dropped: number;
  wake: () => void;
  lastHeard: number;
}

const LOST: TaskEnd = {
  exit_code: null,
  signal: null,
  timed_out: false,
  error: "[ops] output lost: the coordination channel broke (try again)",
};

export function createTaskHub(options: TaskHubOptions = {}): TaskHub {
  const idleMs = options.idleTimeoutMs ?? 15_000;
  const maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
  const channel = options.channel ?? createLocalTasks();

  /** Queues one post for the reader, within the byte budget. */
  function receive(state: Open, output: TaskOutput | null): void {
    state.lastHeard = Date.now();
    const tellDropped = () => {
      if (state.dropped === 0) return;
      state.chunks.push({ data: `[strata] ${state.dropped} bytes dropped: read too slowly\n` });
      state.dropped = 0;
    };
    if (output === null) {
      tellDropped();
      state.chunks.push({ end: LOST });
    } else {
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
    }
    state.wake();
  }

  return {
    async *run(server, spec, signal) {
      const task = { ...spec, id: randomUUID(), keepalive_ms: Math.max(100, idleMs / 3) };
      let wake = () => {};
      const state: Open = {
        chunks: [],
        queuedBytes: 0,
        dropped: 0,
        wake: () => wake(),
        lastHeard: Date.now(),
      };
      const opened = await channel.openTask(server, task as AgentTask, (output) =>
        receive(state, output),
      );
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
        await opened.close();
      }
    },

    take: (server, waitMs, signal) => channel.takeTasks(server, waitMs, signal),

    deliver: (server, id, output) => channel.postTaskOutput(server, id, output),
  };
}
