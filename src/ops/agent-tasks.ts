import { join } from "node:path";
import type { RunAs } from "../lib/app-user.js";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import { runInGroup } from "../lib/process.js";
import { readCurrent } from "../lib/server-root.js";
import { tlsOptions } from "../lib/tls-fetch.js";
import { appEnv } from "../runtime/app-env.js";
import { loadAppSpec } from "../runtime/release-app.js";
import { fetchSecrets, type SecretSource } from "../runtime/secrets.js";
import { rotatedFiles } from "../runtime/log-rotation.js";
import type { AgentTask, AgentTasks, TaskEnd, TaskOutput } from "../wire/ops.js";
import { followFile, readLastLines, sizeOf } from "./log-reader.js";

/** The agent's own log, beside app.log in the server root (JSON lines, rotated). */
export const AGENT_LOG = join("logs", "agent.log");

/** Rotated copies looked at when reading a log (`.1` .. `.20`). */
const MAX_ROTATED = 20;
/** Tasks one agent runs at once; more are refused. */
const MAX_RUNNING = 8;
const LONG_POLL_SECONDS = 25;
/** Most bytes of output in one post (the route takes 256 KiB). */
const CHUNK = 192 * 1024;

export interface AgentTasksOptions {
  /** Control plane URL. */
  server: string;
  ca?: string;
  /** The agent's bearer token, as the session holds it now. */
  token(): string | null;
  /** The session's retry policy (rejoins after a 401). */
  retrying<T>(what: string, work: () => Promise<T>): Promise<T>;
  root: string;
  /** The server's address, the app's HOST. */
  address: string;
  /** The account commands run as (the app's). */
  runAs?: RunAs;
  clock: Clock;
  log: (line: string) => void;
  /** Strings replaced in any output sent (the agent's own tokens). */
  secrets(): string[];
  /** The app's secrets, for a command's environment. @default fetched over the agent's token */
  appSecrets?: SecretSource;
  signal: AbortSignal;
}

/**
 * Pulls tasks from the control plane (`GET /v1/agents/tasks`, a long poll
 * beside the desired-state one) and runs each: a log read or follow, or a
 * command in the current release. Output goes back in posts to
 * `/v1/agents/tasks/:id/output`; a 404 there (nobody waits any more) or a
 * failed post stops the task. Resolves when `signal` aborts.
 */
export async function runAgentTasks(options: AgentTasksOptions): Promise<void> {
  const { signal } = options;
  const base = options.server.replace(/\/+$/, "");
  const running = new Set<Promise<void>>();
  const appSecrets =
    options.appSecrets ??
    fetchSecrets({
      server: options.server,
      token: options.token,
      ...(options.ca ? { ca: options.ca } : {}),
    });

  /** `last`: the end of a task, sent even while the agent stops (bounded by its own timeout). */
  async function call(
    method: string,
    path: string,
    body?: unknown,
    last = false,
  ): Promise<Response> {
    const token = options.token();
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: last ? AbortSignal.timeout(5000) : signal,
        ...(await tlsOptions(options.ca)),
      } as RequestInit);
    } catch (err) {
      if (signal.aborted && !last) throw signal.reason;
      throw new StrataError("unavailable", `[agent] ${method} ${base}${path}: ${messageOf(err)}`);
    }
    if (res.status === 401) throw new StrataError("unauthorized", `[agent] ${path}: HTTP 401`);
    return res;
  }

  const poll = async (): Promise<AgentTask[]> => {
    const res = await call("GET", `/v1/agents/tasks?wait=${LONG_POLL_SECONDS}`);
    if (!res.ok) throw new StrataError("unavailable", `[agent] tasks: HTTP ${res.status}`);
    return ((await res.json()) as AgentTasks).tasks;
  };

  while (!signal.aborted) {
    let tasks: AgentTask[];
    try {
      tasks = await options.retrying("tasks", poll);
    } catch (err) {
      if (signal.aborted) break;
      throw err;
    }
    for (const task of tasks) {
      const sender = createSender(task, call, options.secrets);
      if (running.size >= MAX_RUNNING) {
        void sender.end({ ...NO_EXIT, error: `[agent] busy: ${MAX_RUNNING} tasks run already` });
        continue;
      }
      const work = runTask(task, sender, { ...options, appSecrets })
        .catch((err) => void sender.end({ ...NO_EXIT, error: messageOf(err) }))
        .finally(() => running.delete(work));
      running.add(work);
    }
  }
  await Promise.all(running);
}

const NO_EXIT: TaskEnd = { exit_code: null, signal: null, timed_out: false };

interface Sender {
  /** False once nobody waits for the task (or the post failed): stop. */
  send(data: string): Promise<boolean>;
  /** Sends an empty post if nothing went out for the task's keepalive interval. */
  keepalive(): Promise<boolean>;
  end(end: TaskEnd): Promise<boolean>;
  /** Adds values replaced in everything sent from now on (the app's secrets). */
  hide(values: string[]): void;
  /** Aborts when a post was refused. */
  readonly stopped: AbortSignal;
}

function createSender(
  task: AgentTask,
  call: (method: string, path: string, body?: unknown, last?: boolean) => Promise<Response>,
  secrets: () => string[],
): Sender {
  const stop = new AbortController();
  let lastSent = Date.now();
  const hidden: string[] = [];
  const redact = (text: string) => {
    let out = text;
    for (const secret of [...secrets(), ...hidden])
      if (secret.length >= 8) out = out.split(secret).join("[redacted]");
    return out;
  };
  const post = async (body: TaskOutput): Promise<boolean> => {
    if (stop.signal.aborted) return false;
    lastSent = Date.now();
    const path = `/v1/agents/tasks/${task.id}/output`;
    const res = await call("POST", path, body, body.end !== undefined).catch(() => null);
    await res?.body?.cancel().catch(() => undefined);
    if (res?.ok) return true;
    stop.abort();
    return false;
  };
  return {
    async send(data) {
      for (let at = 0; at < data.length; at += CHUNK) {
        if (!(await post({ data: redact(data.slice(at, at + CHUNK)) }))) return false;
      }
      return true;
    },
    keepalive: () =>
      Date.now() - lastSent >= task.keepalive_ms ? post({}) : Promise.resolve(!stop.signal.aborted),
    end: (end) => post({ end: end.error ? { ...end, error: redact(end.error) } : end }),
    hide: (values) => void hidden.push(...values),
    stopped: stop.signal,
  };
}

async function runTask(
  task: AgentTask,
  sender: Sender,
  options: AgentTasksOptions & { appSecrets: SecretSource },
): Promise<void> {
  const signal = AbortSignal.any([options.signal, sender.stopped]);
  if (task.kind === "logs") {
    const file = join(options.root, task.source === "app" ? "app.log" : AGENT_LOG);
    const from = await sizeOf(file);
    const text = await readLastLines(rotatedFiles(file, MAX_ROTATED), {
      lines: task.lines,
      ...(task.since !== undefined ? { since: task.since } : {}),
    });
    if (text && !(await sender.send(text))) return;
    if (task.follow) {
      await followFile({
        file,
        from,
        signal,
        onLines: async (lines) => void (await sender.send(lines)),
        onIdle: async () => void (await sender.keepalive()),
      });
    }
    const stopping = options.signal.aborted ? { error: "[agent] stopping" } : {};
    await sender.end({ ...NO_EXIT, ...stopping });
    return;
  }
  const current = await readCurrent(options.root);
  if (!current)
    return void (await sender.end({ ...NO_EXIT, error: "[agent] exec: no current release" }));
  const app = await loadAppSpec(options.root, current, options.address);
  // Regression: exec ran without the app's secrets. Never in the output either.
  let secrets: Record<string, string>;
  try {
    secrets = await options.appSecrets();
  } catch (err) {
    const error = `[agent] exec: cannot fetch the app's secrets: ${messageOf(err)}`;
    return void (await sender.end({ ...NO_EXIT, error }));
  }
  sender.hide(Object.values(secrets));
  const keepalive = setInterval(() => void sender.keepalive(), task.keepalive_ms);
  try {
    const result = await runInGroup(task.argv, {
      label: "[agent] exec",
      cwd: app.dir,
      env: appEnv(app, secrets),
      timeoutMs: task.timeout_ms,
      maxOutputBytes: task.max_output_bytes,
      clock: options.clock,
      signal,
      ...(options.runAs ? { runAs: options.runAs } : {}),
    });
    if (result.output && !(await sender.send(result.output))) return;
    await sender.end({
      exit_code: result.exitCode,
      signal: result.signal,
      timed_out: result.timedOut,
      duration_ms: result.durationMs,
      ...(result.timedOut ? { error: `[agent] exec: timed out after ${task.timeout_ms} ms` } : {}),
    });
  } finally {
    clearInterval(keepalive);
  }
}
