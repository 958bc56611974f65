/**
 * Day-two operations through the task channel (docs/operations.md), on a real control plane
 * with real agent processes running the example app:
 * - `exec`: `POST /v1/exec` of `true` on every server at once, from the call until the summary;
 *   baseline: the same `true` run locally by the same runner (process group, bounded output).
 * - `follow`: a line appended to a server's app.log until `GET /v1/logs?follow=1` streamed it;
 *   baseline: the agent's file poll interval (250 ms), the longest a line waits without inotify.
 * - `read`: `GET /v1/logs?lines=10000` of one server's 10,000-line app.log; baseline: the same
 *   lines read from the file in this process (readLastLines).
 * Usage: npx tsx bench/ops.bench.ts [--servers 4] [--rounds 20]
 * Writes docs/benchmarks/ops.json and docs/benchmarks/ops.md.
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { systemClock } from "../src/lib/clock.js";
import { runInGroup } from "../src/lib/process.js";
import { readLastLines } from "../src/ops/log-reader.js";
import type { ExecEvent, LogsEvent } from "../src/wire/ops.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  startTestPlane,
  status,
  waitFor,
} from "../test/e2e/harness.js";
import {
  machineInfo,
  markdownTable,
  round,
  secondsSince,
  summarize,
  writeReport,
  type Summary,
} from "./lib/report.js";

const { values } = parseArgs({
  options: {
    servers: { type: "string", default: "4" },
    rounds: { type: "string", default: "20" },
  },
});
const servers = Math.max(1, Number(values.servers));
const rounds = Math.max(1, Number(values.rounds));
const COMMAND = `npx tsx bench/ops.bench.ts --servers ${servers} --rounds ${rounds}`;
const POLL_MS = 250;
const log = (line: string) => process.stderr.write(`ops: ${line}\n`);

async function* ndjson<T>(res: Response): AsyncGenerator<T> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line) as T;
    }
  }
}

const octet = () => 10 + Math.floor(Math.random() * 240);
const t = await startTestPlane({
  apiPrefix: `127.82.${octet()}`,
  serverPrefix: `127.82.${octet()}`,
});
try {
  log(`launching ${servers} servers`);
  await t.client.post("/v1/fleet/up", { group: "web", count: servers });
  await waitFor("the agents to join", async () =>
    (await status(t.client)).servers.every((s) => s.state !== "launching" && s.last_heartbeat),
  );
  await build(t.client, EXAMPLE_APP, "1.0.0");
  const d = await deployAndWait(t.client, { version: "1.0.0" });
  if (d.state !== "succeeded") throw new Error(`deploy: ${d.state} ${d.error ?? ""}`);
  const names = (await status(t.client)).servers.map((s) => s.name).sort();
  const root = join(t.dir, "data", "servers", names[0]!);

  log("exec");
  const execMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    const res = await t.client.raw("POST", "/v1/exec", {
      body: JSON.stringify({ group: "web", argv: ["true"] }),
      headers: { "content-type": "application/json" },
    });
    let summary: ExecEvent | null = null;
    for await (const event of ndjson<ExecEvent>(res)) if (event.type === "summary") summary = event;
    if (summary?.type !== "summary" || !summary.ok)
      throw new Error(`exec failed: ${JSON.stringify(summary)}`);
    execMs.push(secondsSince(start) * 1000);
  }
  const localMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await runInGroup(["true"], {
      label: "bench",
      cwd: root,
      env: {},
      timeoutMs: 10_000,
      clock: systemClock,
    });
    localMs.push(secondsSince(start) * 1000);
  }

  log("follow");
  const abort = new AbortController();
  const res = await t.client.raw("GET", `/v1/logs?group=web&server=${names[0]}&follow=1&lines=1`, {
    signal: abort.signal,
  });
  const arrivals = new Map<string, bigint>();
  const reading = (async () => {
    try {
      for await (const event of ndjson<LogsEvent>(res)) {
        if (event.type !== "output") continue;
        for (const match of event.data.matchAll(/bench-marker-(\d+)/g))
          arrivals.set(match[1]!, process.hrtime.bigint());
      }
    } catch {
      // aborted at the end
    }
  })();
  await waitFor("the follow to start", async () => res.status === 200);
  const followMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    await appendFile(join(root, "app.log"), `bench-marker-${i}\n`);
    await waitFor(`marker ${i}`, async () => arrivals.has(String(i)), 30_000, 2);
    followMs.push(Number(arrivals.get(String(i))! - start) / 1e6);
  }
  abort.abort();
  await reading;

  log("read");
  const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i} ${"x".repeat(100)}`);
  await appendFile(join(root, "app.log"), lines.join("\n") + "\n");
  const readMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < Math.min(rounds, 10); i++) {
    const start = process.hrtime.bigint();
    const r = await t.client.raw("GET", `/v1/logs?group=web&server=${names[0]}&lines=10000`);
    bytes = 0;
    for await (const event of ndjson<LogsEvent>(r))
      if (event.type === "output") bytes += event.data.length;
    readMs.push(secondsSince(start) * 1000);
  }
  const fileMs: number[] = [];
  for (let i = 0; i < Math.min(rounds, 10); i++) {
    const start = process.hrtime.bigint();
    await readLastLines([join(root, "app.log")], { lines: 10_000 });
    fileMs.push(secondsSince(start) * 1000);
  }

  const rows: [string, Summary, Summary, string][] = [
    [
      `exec \`true\` on ${servers} servers`,
      summarize(execMs),
      summarize(localMs),
      "`true` run locally",
    ],
    [
      "follow: appended line to client",
      summarize(followMs),
      summarize([POLL_MS]),
      "agent's file poll",
    ],
    [
      `read 10,000 lines (${(bytes / 1e6).toFixed(2)} MB)`,
      summarize(readMs),
      summarize(fileMs),
      "file read locally",
    ],
  ];
  const results = rows.map(([what, measured, baseline, against]) => ({
    what,
    measured_ms: measured,
    baseline_ms: baseline,
    ratio_p50: round(measured.p50 / baseline.p50, 2),
    against,
  }));
  const table = markdownTable(
    ["what", "p50 ms", "p90 ms", "max ms", "baseline", "baseline p50 ms", "ratio (p50)"],
    rows.map(([what, m, b, against]) => [
      what,
      round(m.p50, 1),
      round(m.p90, 1),
      round(m.max, 1),
      against,
      round(b.p50, 1),
      round(m.p50 / b.p50, 2),
    ]),
  );
  const written = await writeReport({
    name: "ops",
    command: COMMAND,
    machine: machineInfo(),
    results,
    title: "strata logs and strata exec through the task channel",
    markdown: `${table}\n\n${rounds} rounds; a real control plane and ${servers} agent processes on loopback, agents long-polling their tasks (docs/operations.md). The agent follows a file by its change events (inotify), with a poll every ${POLL_MS} ms as the fallback: the baseline is the wait a line may have on the poll alone.`,
  });
  log(`wrote ${written.join(", ")}`);
} finally {
  await t.close();
}
