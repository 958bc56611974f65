import type { ApiClient } from "./client.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { ExecEvent, ExecRequest, ExecServerResult, LogsEvent } from "../wire/ops.js";
import { EXIT } from "./exit-codes.js";
import { printJson } from "./output.js";

/** `strata logs` and `strata exec`: their work over the HTTP client, and their rendering. */

export interface LogsOptions {
  group: string;
  server?: string;
  source: "app" | "agent";
  lines: number;
  since?: string;
  follow: boolean;
  json: boolean;
}

/** Where the commands write: the process's streams, or a test's. */
export interface OpsIo {
  out(text: string): void;
  err(text: string): void;
}

const PROCESS_IO: OpsIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/**
 * Streams the servers' logs; with `follow`, until `signal` aborts (Ctrl-C:
 * exit 0) or every server ended. Exit 1 when a server could not give its log.
 * `--json`: one document (with `follow`, one JSON event a line).
 */
export async function runLogs(
  client: ApiClient,
  options: LogsOptions,
  signal: AbortSignal,
  io: OpsIo = PROCESS_IO,
): Promise<number> {
  const query = new URLSearchParams({
    group: options.group,
    source: options.source,
    lines: String(options.lines),
    follow: options.follow ? "1" : "0",
  });
  if (options.server) query.set("server", options.server);
  if (options.since) query.set("since", options.since);
  const collected = new Map<string, { server: string; lines: string[]; error?: string }>();
  const failed: string[] = [];
  let prefix = true;
  const partial = new Map<string, string>();
  try {
    const res = await client.raw("GET", `/v1/logs?${query}`, { signal });
    for await (const event of ndjson<LogsEvent>(res)) {
      if (options.json && options.follow) io.out(JSON.stringify(event) + "\n");
      if (event.type === "servers") {
        prefix = !options.server;
        for (const server of event.servers) collected.set(server, { server, lines: [] });
      } else if (event.type === "output") {
        const text = (partial.get(event.server) ?? "") + event.data;
        const lines = text.split("\n");
        partial.set(event.server, lines.pop() ?? "");
        if (options.json) collected.get(event.server)?.lines.push(...lines);
        else io.out(lines.map((l) => (prefix ? `${event.server} | ${l}\n` : `${l}\n`)).join(""));
      } else if (event.error) {
        failed.push(event.server);
        const entry = collected.get(event.server);
        if (entry) entry.error = event.error;
        if (!options.json) io.err(`${event.server}: ${event.error}\n`);
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  if (options.json && !options.follow) printDocument(io, { servers: [...collected.values()] });
  return failed.length > 0 && !signal.aborted ? EXIT.FAILED : EXIT.OK;
}

/**
 * Runs a command on the group's servers in batches and prints each server's
 * output prefixed by its name, its exit status, then a summary (`--json`:
 * the summary as one document). Exit 1 when any server failed.
 */
export async function runExec(
  client: ApiClient,
  request: ExecRequest,
  options: { json: boolean },
  signal: AbortSignal,
  io: OpsIo = PROCESS_IO,
): Promise<number> {
  const res = await client.raw("POST", "/v1/exec", {
    body: JSON.stringify(request),
    headers: { "content-type": "application/json" },
    signal,
  });
  let summary: Extract<ExecEvent, { type: "summary" }> | null = null;
  try {
    for await (const event of ndjson<ExecEvent>(res)) {
      if (event.type === "summary") summary = event;
      else if (options.json) continue;
      else if (event.type === "batch") {
        io.err(`batch ${event.batch}/${event.of}: ${event.servers.join(", ")}\n`);
      } else io.out(renderResult(event.result));
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
  if (!summary && signal.aborted) {
    io.err("interrupted: the commands still running are stopped on their servers\n");
    return EXIT.INTERRUPTED;
  }
  if (!summary)
    throw new StrataError("unavailable", "[cli] exec: the stream ended without a summary");
  if (options.json) printDocument(io, summary);
  else {
    const total = summary.results.length;
    const okCount = summary.results.filter((r) => r.ok).length;
    io.out(
      summary.ok
        ? `ok on ${okCount}/${total} servers\n`
        : `failed on ${summary.failed.length}/${total} servers: ${summary.failed.join(", ")}\n`,
    );
  }
  return summary.ok ? EXIT.OK : EXIT.FAILED;
}

/** One server's output, each line prefixed by the server, then how it ended. */
export function renderResult(result: ExecServerResult): string {
  const lines = result.output.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const how = result.error
    ? result.error
    : result.signal
      ? `killed by ${result.signal}`
      : `exit ${result.exit_code}`;
  const took =
    result.duration_ms === undefined ? "" : ` (${(result.duration_ms / 1000).toFixed(1)} s)`;
  return [...lines.map((l) => `${result.server} | ${l}`), `${result.server}: ${how}${took}`]
    .map((l) => `${l}\n`)
    .join("");
}

function printDocument(io: OpsIo, value: unknown): void {
  if (io === PROCESS_IO) printJson(value);
  else io.out(JSON.stringify(value, null, 2) + "\n");
}

/** The events of an NDJSON answer; a stream cut short (the control plane went away) is `unavailable`. */
async function* ndjson<T>(res: Response): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buffer = "";
  const chunks = (res.body as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await chunks.next();
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new StrataError(
        "unavailable",
        `[cli] the control plane's stream broke: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    if (next.done) return;
    buffer += decoder.decode(next.value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line) as T;
    }
  }
}
