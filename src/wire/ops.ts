import { z } from "zod";
import { parseDuration } from "../lib/duration.js";
import { groupName, serverName } from "./names.js";

/**
 * Day-two operations on running servers (`strata logs`, `strata exec`): the
 * CLI asks the control plane, which queues a task for each server's agent;
 * agents pull tasks (they long-poll, the control plane may not reach them)
 * and post the output back, which the control plane streams to the CLI.
 */

const durationText = (what: string, maxMs: number) =>
  z
    .string()
    .max(32)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === null || ms <= 0 || ms > maxMs) {
        ctx.addIssue({
          code: "custom",
          message: `${what}: expected a duration like "90s" or "10m" (at most ${maxMs / 60_000}m), got "${value}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

const flag = z
  .enum(["1", "0", "true", "false"])
  .default("0")
  .transform((v) => v === "1" || v === "true");

/** Most lines one `strata logs` asks of each server. */
export const MAX_LOG_LINES = 10_000;

/** Query of `GET /v1/logs` (NDJSON of LogsEvent). */
export const LogsQuerySchema = z.strictObject({
  group: groupName,
  server: serverName.optional(),
  /** `app`: the app's stdout and stderr (app.log); `agent`: the agent's own log. */
  source: z.enum(["app", "agent"]).default("app"),
  lines: z.coerce.number().int().min(1).max(MAX_LOG_LINES).default(100),
  /** Only lines from this long ago on. */
  since: durationText("since", 90 * 86_400_000).optional(),
  follow: flag,
});
export type LogsQuery = z.infer<typeof LogsQuerySchema>;

/** Body of `POST /v1/exec` (NDJSON of ExecEvent). */
export const ExecRequestSchema = z.strictObject({
  group: groupName,
  server: serverName.optional(),
  /** argv, run without a shell (`sh -c '...'` for one) in the current release's folder. */
  argv: z.array(z.string().min(1).max(4096)).min(1).max(256),
  /** Servers at a time; 0: all at once. */
  batch: z.number().int().min(0).max(10_000).default(0),
  /** Longest a command may run on one server; then its process group is killed. */
  timeout: durationText("timeout", 3_600_000).prefault("60s"),
});
export type ExecRequest = z.input<typeof ExecRequestSchema>;

/** How a task ended on a server. */
export interface TaskEnd {
  /** null when killed by a signal, not started, or the task was no command. */
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  /** Why the task could not run or was cut short (no current release, unreadable log...). */
  error?: string;
  duration_ms?: number;
}

/** A task the control plane queues for one agent. */
export type AgentTask = {
  id: string;
  /** While the task runs, the agent posts at least this often (empty when nothing is new). */
  keepalive_ms: number;
} & (
  | {
      kind: "logs";
      source: "app" | "agent";
      lines: number;
      /** Epoch ms: only lines from then on. */
      since?: number;
      follow: boolean;
    }
  | {
      kind: "exec";
      argv: string[];
      timeout_ms: number;
      /** Output kept: half from the start, half from the end. */
      max_output_bytes: number;
    }
);

/** A task as a caller describes it; the hub adds the id and keepalive. */
export type TaskSpec = AgentTask extends infer T
  ? T extends AgentTask
    ? Omit<T, "id" | "keepalive_ms">
    : never
  : never;

/** Answer of `GET /v1/agents/tasks` (a long poll). */
export interface AgentTasks {
  tasks: AgentTask[];
}

/** Query of `GET /v1/agents/tasks`. */
export const TasksQuerySchema = z.strictObject({
  wait: z.coerce.number().min(0).max(3600).default(0),
});

/** Most bytes of output in one post. */
export const MAX_TASK_CHUNK = 256 * 1024;

/**
 * Body of `POST /v1/agents/tasks/:id/output`: output so far (whole lines for
 * logs), and `end` once the task is over. 404 answers a task nobody waits
 * for any more (the CLI went away): the agent stops it.
 */
export const TaskOutputSchema = z.strictObject({
  data: z.string().max(MAX_TASK_CHUNK).optional(),
  end: z
    .strictObject({
      exit_code: z.number().int().nullable(),
      signal: z.string().max(32).nullable(),
      timed_out: z.boolean(),
      error: z.string().max(4096).optional(),
      duration_ms: z.number().min(0).optional(),
    })
    .optional(),
});
export type TaskOutput = z.infer<typeof TaskOutputSchema>;

export const TaskIdSchema = z.strictObject({ id: z.string().regex(/^[0-9a-f-]{36}$/) });

/** One line of `GET /v1/logs`'s NDJSON. */
export type LogsEvent =
  | { type: "servers"; servers: string[] }
  | { type: "output"; server: string; data: string }
  | { type: "end"; server: string; error?: string };

/** Outcome of `strata exec` on one server. */
export interface ExecServerResult extends TaskEnd {
  server: string;
  ok: boolean;
  output: string;
}

/** One line of `POST /v1/exec`'s NDJSON. */
export type ExecEvent =
  | { type: "batch"; batch: number; of: number; servers: string[] }
  | { type: "result"; result: ExecServerResult }
  | { type: "summary"; ok: boolean; failed: string[]; results: ExecServerResult[] };
