import type { AgentTask } from "../../wire/ops.js";
import type { Holds, TaskChannel, TaskOutputListener } from "../coordinator.js";

/** The task channel of one control plane, in memory: posts go straight to their listener. */
export function createLocalTasks(): TaskChannel {
  const queued = new Map<string, AgentTask[]>();
  const pollers = new Map<string, Set<() => void>>();
  const open = new Map<string, { server: string; onOutput: TaskOutputListener }>();

  const dequeue = (server: string, id: string) => {
    const left = (queued.get(server) ?? []).filter((t) => t.id !== id);
    if (left.length > 0) queued.set(server, left);
    else queued.delete(server);
  };

  return {
    async openTask(server, task, onOutput) {
      open.set(task.id, { server, onOutput });
      queued.set(server, [...(queued.get(server) ?? []), task]);
      for (const wake of pollers.get(server) ?? []) wake();
      return {
        async close() {
          open.delete(task.id);
          dequeue(server, task.id);
        },
      };
    },

    async takeTasks(server, waitMs, signal) {
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

    async postTaskOutput(server, id, output) {
      const task = open.get(id);
      if (!task || task.server !== server) return false;
      task.onOutput(output);
      return true;
    },
  };
}

/** Holds of one control plane, in memory: they end with the process, as its deployments halt. */
export function createLocalHolds(): Holds {
  const held = new Set<string>();
  return {
    async holdOut(servers) {
      for (const server of servers) held.add(server);
    },
    async letIn(servers) {
      for (const server of servers) held.delete(server);
    },
    heldOut: async (server) => held.has(server),
  };
}
