import { StrataError, messageOf } from "../lib/errors.js";
import type { ServerRecord } from "../store/store.js";
import type {
  ExecEvent,
  ExecRequestSchema,
  ExecServerResult,
  LogsEvent,
  LogsQuery,
  TaskEnd,
} from "../wire/ops.js";
import type { z } from "zod";
import type { TaskHub } from "./task-hub.js";

export interface OpsServiceOptions {
  hub: TaskHub;
  /** Live servers of a group, by name; null when the group does not exist. */
  servers(group: string): Promise<ServerRecord[] | null>;
  audit(action: string, subject: string, detail?: Record<string, unknown>): Promise<void>;
  /** The control plane's own secrets (admin and join tokens): replaced in any output. */
  secrets(): string[];
  /** A server without a heartbeat for this long is reported down at once. */
  heartbeatTimeoutMs: number;
  /** Output of `exec` kept per server: half from the start, half from the end. @default 65536 */
  maxExecOutputBytes?: number;
  now?: () => number;
}

/** `strata logs` and `strata exec`: tasks fanned out to a group's agents through the hub. */
export interface OpsService {
  /** Each server's log lines as they arrive; `end` per server; returns when all ended. */
  logs(query: LogsQuery, signal: AbortSignal): Promise<AsyncGenerator<LogsEvent>>;
  /** Runs the command in batches, audited; results per server as they end, then a summary. */
  exec(
    request: z.output<typeof ExecRequestSchema>,
    signal: AbortSignal,
  ): Promise<AsyncGenerator<ExecEvent>>;
}

export function createOpsService(options: OpsServiceOptions): OpsService {
  const { hub } = options;
  const now = options.now ?? Date.now;
  const redact = (text: string) => {
    let out = text;
    for (const secret of options.secrets()) {
      if (secret.length >= 8) out = out.split(secret).join("[redacted]");
    }
    return out;
  };

  async function targets(group: string, server?: string): Promise<ServerRecord[]> {
    const all = await options.servers(group);
    if (!all) throw new StrataError("not_found", `[ops] no group ${group}`);
    const chosen = server ? all.filter((s) => s.name === server) : all;
    if (server && chosen.length === 0) {
      throw new StrataError("not_found", `[ops] no server ${server} in group ${group}`);
    }
    if (chosen.length === 0)
      throw new StrataError("not_found", `[ops] group ${group} has no servers`);
    return chosen;
  }

  /** Why a server cannot take a task now, or null. */
  function unreachable(server: ServerRecord): string | null {
    if (!server.token_hash) return `[ops] ${server.name}: its agent has not joined yet`;
    const age = server.last_heartbeat === null ? Infinity : now() - server.last_heartbeat;
    if (age > options.heartbeatTimeoutMs) {
      const since = Number.isFinite(age) ? `for ${Math.round(age / 1000)} s` : "ever";
      return `[ops] ${server.name}: no heartbeat ${since} (agent down?)`;
    }
    return null;
  }

  return {
    async logs(query, signal) {
      const servers = await targets(query.group, query.server);
      const spec = {
        kind: "logs" as const,
        source: query.source,
        lines: query.lines,
        follow: query.follow,
        ...(query.since ? { since: now() - query.since } : {}),
      };
      async function* one(server: ServerRecord): AsyncGenerator<LogsEvent> {
        const down = unreachable(server);
        if (down) return yield { type: "end", server: server.name, error: down };
        try {
          for await (const chunk of hub.run(server.name, spec, signal)) {
            if ("data" in chunk)
              yield { type: "output", server: server.name, data: redact(chunk.data) };
            else {
              const error = chunk.end.error;
              return yield { type: "end", server: server.name, ...(error ? { error } : {}) };
            }
          }
          if (!signal.aborted) yield { type: "end", server: server.name };
        } catch (err) {
          yield { type: "end", server: server.name, error: messageOf(err) };
        }
      }
      async function* all(): AsyncGenerator<LogsEvent> {
        yield { type: "servers", servers: servers.map((s) => s.name) };
        yield* merge(servers.map(one));
      }
      return all();
    },

    async exec(request, signal) {
      const servers = await targets(request.group, request.server);
      const names = servers.map((s) => s.name);
      await options.audit("ops.exec", request.group, { argv: request.argv, servers: names });
      const size = request.batch > 0 ? request.batch : servers.length;
      const batches: ServerRecord[][] = [];
      for (let i = 0; i < servers.length; i += size) batches.push(servers.slice(i, i + size));
      const maxBytes = options.maxExecOutputBytes ?? 65_536;
      const spec = {
        kind: "exec" as const,
        argv: request.argv,
        timeout_ms: request.timeout,
        max_output_bytes: maxBytes,
      };

      async function runOne(server: ServerRecord): Promise<ExecServerResult> {
        const failed = (error: string): ExecServerResult => ({
          server: server.name,
          ok: false,
          output: "",
          exit_code: null,
          signal: null,
          timed_out: false,
          error,
        });
        const down = unreachable(server);
        if (down) return failed(down);
        let output = "";
        let end: TaskEnd | null = null;
        try {
          for await (const chunk of hub.run(server.name, spec, signal)) {
            if ("data" in chunk) output += chunk.data;
            else end = chunk.end;
          }
        } catch (err) {
          return { ...failed(messageOf(err)), output: redact(output) };
        }
        if (!end) return failed("[ops] cancelled");
        const ok = end.exit_code === 0 && !end.error;
        return { server: server.name, ok, output: redact(output), ...end };
      }

      async function* events(): AsyncGenerator<ExecEvent> {
        const results: ExecServerResult[] = [];
        for (const [i, batch] of batches.entries()) {
          if (signal.aborted) break;
          yield {
            type: "batch",
            batch: i + 1,
            of: batches.length,
            servers: batch.map((s) => s.name),
          };
          const pending = new Map(
            batch.map((s) => [s.name, runOne(s).then((r) => [s.name, r] as const)]),
          );
          while (pending.size > 0) {
            const [name, result] = await Promise.race(pending.values());
            pending.delete(name);
            results.push(result);
            yield { type: "result", result };
          }
        }
        const failed = results.filter((r) => !r.ok).map((r) => r.server);
        for (const s of names) if (!results.some((r) => r.server === s)) failed.push(s);
        await options
          .audit("ops.exec.finished", request.group, { argv: request.argv, failed })
          .catch(() => undefined);
        yield { type: "summary", ok: failed.length === 0, failed, results };
      }
      return events();
    },
  };
}

/** Interleaves generators, yielding each value as soon as its source has it. */
async function* merge<T>(sources: AsyncGenerator<T>[]): AsyncGenerator<T> {
  const next = (i: number) => sources[i]!.next().then((r) => ({ i, r }));
  const pending = new Map(sources.map((_, i) => [i, next(i)]));
  try {
    while (pending.size > 0) {
      const { i, r } = await Promise.race(pending.values());
      if (r.done) pending.delete(i);
      else {
        pending.set(i, next(i));
        yield r.value;
      }
    }
  } finally {
    await Promise.all(sources.map((s) => s.return(undefined)));
  }
}
