/**
 * Pull-deploy fan-out: one ~50 MB release of ~10,000 files deployed `all-at-once` to N local
 * servers (real agent processes), from the deploy call until the deployment succeeded (every
 * agent fetched, verified, extracted, ran its hooks, switched, restarted and passed its health
 * check). Beside it, in the same run and interleaved, the raw cost of the same work: N parallel
 * HTTP GETs of the same artifact URL with sha256 while streaming to a file, then extractArchive
 * (src/artifact/extract.ts) into a temp folder, by a plain Promise.all in this process.
 * Usage: npx tsx bench/fanout.bench.ts [--counts 1,10,25] [--runs 3] [--files 10000] [--mb 53]
 *   [--raw extract[,tar]]   (tar: one `tar -xzf` process per server as a second baseline)
 * Writes docs/benchmarks/fanout.json and docs/benchmarks/fanout.md.
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { parseArgs, promisify } from "node:util";
import { extractArchive } from "../src/artifact/extract.js";
import type { ApiClient } from "../src/cli/client.js";
import { buildRelease } from "../src/cli/commands/build.js";
import type { DeploymentEvent, DeploymentView } from "../src/wire/deployment.js";
import type { Release } from "../src/wire/release.js";
import type { StatusView } from "../src/wire/server.js";
import { generateAppTree } from "./lib/app-tree.js";
import { waitFor, withBenchPlane, type BenchPlane } from "./lib/plane.js";
import {
  machineInfo,
  markdownTable,
  median,
  round,
  secondsSince,
  writeReport,
} from "./lib/report.js";

const { values } = parseArgs({
  options: {
    counts: { type: "string", default: "1,10,25" },
    runs: { type: "string", default: "3" },
    files: { type: "string", default: "10000" },
    mb: { type: "string", default: "53" },
    raw: { type: "string", default: "extract" },
  },
});
const extractors = values.raw.split(",") as Extractor[];
for (const e of extractors)
  if (e !== "extract" && e !== "tar") throw new Error(`--raw: unknown "${e}"`);
const counts = values.counts.split(",").map(Number);
const runs = Math.max(1, Number(values.runs));
const COMMAND = `npx tsx bench/fanout.bench.ts --counts ${counts.join(",")} --runs ${runs} --files ${values.files} --mb ${values.mb} --raw ${extractors.join(",")}`;
const GROUP = "web";
const TARGET_RATIO = 1.3;
/** Pause after the fleet is serving, so agent start-up work does not leak into a measurement. */
const SETTLE_MS = 3000;
/** Pause after each run (and its sync). */
const QUIESCE_MS = 2000;

const log = (line: string) => process.stderr.write(`fanout: ${line}\n`);

interface StepStats {
  median_ms: number;
  max_ms: number;
}

interface StrataRun {
  seconds: number;
  /** From the deploy call until the last health check passed (agents' step timestamps). */
  all_healthy_s: number;
  /** From the deploy call until the first step of each server started: wake-up + control-plane work. */
  first_step_s: { median: number; max: number };
  /** From the end of the last step of any server until the deployment finished: pruning, final reports, bookkeeping. */
  tail_s: number;
  /** From the end of the last extraction until the deployment succeeded: what strata adds after the raw work. */
  after_extract_s: number;
  steps: Record<string, StepStats>;
}

/** `extract`: extractArchive in this process; `tar`: one `tar -xzf` process per server. */
type Extractor = "extract" | "tar";
const execFileAsync = promisify(execFile);

interface RawRun {
  seconds: number;
  download_verify_ms: StepStats;
  extract_ms: StepStats;
}

const stats = (values: number[]): StepStats => ({
  median_ms: Math.round(median(values)),
  max_ms: Math.round(Math.max(...values)),
});

async function serving(client: ApiClient, count: number, version: string): Promise<StatusView> {
  return waitFor(
    `${count} servers of ${GROUP} in service on ${version}`,
    async () => {
      const s = await client.get<StatusView>("/v1/status");
      const ok = s.servers.filter(
        (x) => x.group === GROUP && x.in_service && x.state === "ready" && x.version === version,
      );
      return ok.length >= count ? s : null;
    },
    300_000,
    250,
  );
}

/** Reads the deployment's NDJSON event stream until `done`. */
async function untilDone(client: ApiClient, id: string): Promise<DeploymentView> {
  const res = await client.raw("GET", `/v1/deployments/${id}/events`);
  if (!res.body) throw new Error(`deployment ${id}: no event stream`);
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const event = JSON.parse(buffered.slice(0, newline)) as DeploymentEvent;
      buffered = buffered.slice(newline + 1);
      if (event.type === "done") {
        await res.body.cancel().catch(() => undefined);
        return event.deployment;
      }
    }
  }
  throw new Error(`deployment ${id}: event stream ended before done`);
}

async function deployStrata(client: ApiClient, version: string): Promise<StrataRun> {
  const wallStart = Date.now();
  const start = process.hrtime.bigint();
  const started = await client.post<DeploymentView>("/v1/deployments", {
    app: "hello",
    group: GROUP,
    version,
    strategy: "all-at-once",
  });
  const done = await untilDone(client, started.id);
  const seconds = secondsSince(start);
  if (done.state !== "succeeded") {
    throw new Error(`deployment ${done.id} of ${version}: ${done.state}: ${done.error}`);
  }
  const byStep = new Map<string, number[]>();
  const healthyAt: number[] = [];
  const firstStep: number[] = [];
  let lastStepEnd = 0;
  let lastExtractEnd = 0;
  for (const server of done.servers) {
    const first = server.steps[0];
    if (first) firstStep.push((Date.parse(first.started_at) - wallStart) / 1000);
    for (const step of server.steps) {
      if (step.duration_ms === null) continue;
      const end = Date.parse(step.started_at) + step.duration_ms;
      lastStepEnd = Math.max(lastStepEnd, end);
      if (step.name === "extract") lastExtractEnd = Math.max(lastExtractEnd, end);
      byStep.set(step.name, [...(byStep.get(step.name) ?? []), step.duration_ms]);
      if (step.name === "health_check" && step.state === "ok") {
        healthyAt.push((Date.parse(step.started_at) + step.duration_ms - wallStart) / 1000);
      }
    }
  }
  return {
    seconds: round(seconds),
    all_healthy_s: round(Math.max(...healthyAt)),
    first_step_s: { median: round(median(firstStep)), max: round(Math.max(...firstStep)) },
    tail_s: round((Date.parse(done.finished_at ?? "") - lastStepEnd) / 1000),
    after_extract_s: round(seconds - (lastExtractEnd - wallStart) / 1000),
    steps: Object.fromEntries([...byStep].map(([name, ms]) => [name, stats(ms)])),
  };
}

/** GET with sha256 while streaming to `file`, as the agent does, over plain node:http. */
function download(url: string, token: string, file: string, expected: Release): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
      }
      const hash = createHash("sha256");
      let bytes = 0;
      pipeline(
        res,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(file),
      ).then(() => {
        const id = `sha256:${hash.digest("hex")}`;
        if (id !== expected.id || bytes !== expected.size) {
          reject(new Error(`GET ${url}: got ${id}, ${bytes} bytes`));
        } else resolve();
      }, reject);
    });
    req.on("error", reject);
  });
}

async function rawFanout(
  baseUrl: string,
  token: string,
  release: Release,
  count: number,
  work: string,
  extractor: Extractor,
): Promise<RawRun> {
  await mkdir(work, { recursive: true });
  const url = `${baseUrl}/v1/releases/${release.id}/artifact`;
  const downloads: number[] = [];
  const extracts: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const tarball = join(work, `${i}.tar.gz`);
      const began = process.hrtime.bigint();
      await download(url, token, tarball, release);
      downloads.push(secondsSince(began) * 1000);
      const extracting = process.hrtime.bigint();
      const dest = join(work, String(i));
      if (extractor === "extract") await extractArchive(tarball, dest);
      else {
        await mkdir(dest);
        await execFileAsync("tar", ["-xzf", tarball, "-C", dest]);
      }
      extracts.push(secondsSince(extracting) * 1000);
      await rm(tarball);
    }),
  );
  const seconds = secondsSince(start);
  return {
    seconds: round(seconds),
    download_verify_ms: stats(downloads),
    extract_ms: stats(extracts),
  };
}

interface PerCount {
  servers: number;
  strata_s: number;
  /** Median seconds of each raw variant. */
  raw_s: Partial<Record<Extractor, number>>;
  /** strata_s / raw_s per variant. */
  ratio: Partial<Record<Extractor, number>>;
  /** Median over the runs of strata / raw of the same run (neighbours in time), per variant. */
  paired_ratio: Partial<Record<Extractor, number>>;
  strata_runs: StrataRun[];
  raw_runs: Partial<Record<Extractor, RawRun[]>>;
}

type FanoutResults = Awaited<ReturnType<typeof measure>>;

async function measure({ plane, client, dir }: BenchPlane) {
  const app = join(dir, "app");
  const generating = process.hrtime.bigint();
  const tree = await generateAppTree(app, {
    files: Number(values.files),
    bytes: Number(values.mb) * 1024 * 1024,
  });
  log(
    `generated ${tree.files} files, ${tree.bytes} bytes in ${secondsSince(generating).toFixed(1)} s`,
  );

  // Every timed deploy needs a release no server holds yet; all are built before any agent runs.
  const releases: Release[] = [];
  for (let i = 0; i <= counts.length * runs; i++) {
    await writeFile(join(app, "message.txt"), `fan-out release ${i}\n`);
    releases.push(await buildRelease(client, app, "hello", `1.0.${i}`));
  }
  log(`built ${releases.length} releases of ${releases[0]!.size} bytes`);

  const perCount: PerCount[] = [];
  let next = 0;
  for (const count of counts) {
    const launching = process.hrtime.bigint();
    await client.post("/v1/fleet/up", { group: GROUP, count });
    if (next === 0) {
      await waitFor(
        `${count} agents to join`,
        async () => {
          const s = await client.get<StatusView>("/v1/status");
          const joined = s.servers.filter((x) => x.state !== "launching" && x.last_heartbeat);
          return joined.length >= count;
        },
        120_000,
      );
      // Untimed first deploy: every timed one then replaces a running release, as in production.
      await deployStrata(client, releases[next]!.version);
    }
    // New servers join on the group's desired release and bring themselves up to it.
    await serving(client, count, releases[next]!.version);
    log(
      `${count} servers serving ${releases[next]!.version} after ${secondsSince(launching).toFixed(1)} s`,
    );
    await sleep(SETTLE_MS);

    const strataRuns: StrataRun[] = [];
    const rawRuns: Partial<Record<Extractor, RawRun[]>> = {};
    for (let run = 0; run < runs; run++) {
      const release = releases[++next]!;
      // Alternate the order so neither side always runs on a machine warmed (or tired) by the other.
      const sides: ("strata" | Extractor)[] = ["strata", ...extractors];
      if (run % 2 === 1) sides.reverse();
      for (const side of sides) {
        if (side === "strata") {
          strataRuns.push(await deployStrata(client, release.version));
          log(`N=${count} run ${run + 1}: strata ${strataRuns.at(-1)!.seconds} s`);
        } else {
          const work = join(dir, "raw", `${count}-${run}-${side}`);
          const result = await rawFanout(plane.url, plane.adminToken, release, count, work, side);
          (rawRuns[side] ??= []).push(result);
          log(`N=${count} run ${run + 1}: raw ${side} ${result.seconds} s`);
        }
        await quiesce();
      }
    }
    // Deleting ~10,000 files per copy keeps ext4 (mounted with `discard` here) busy for a while
    // afterwards: done between fleet sizes, never between timed runs.
    await rm(join(dir, "raw"), { recursive: true, force: true });
    const strata = median(strataRuns.map((r) => r.seconds));
    const raw = Object.fromEntries(
      extractors.map((e) => [e, round(median(rawRuns[e]!.map((r) => r.seconds)))]),
    ) as Partial<Record<Extractor, number>>;
    perCount.push({
      servers: count,
      strata_s: round(strata),
      raw_s: raw,
      ratio: Object.fromEntries(extractors.map((e) => [e, round(strata / raw[e]!, 2)])),
      paired_ratio: Object.fromEntries(
        extractors.map((e) => [
          e,
          round(median(strataRuns.map((x, i) => x.seconds / rawRuns[e]![i]!.seconds)), 2),
        ]),
      ),
      strata_runs: strataRuns,
      raw_runs: rawRuns,
    });
  }
  return {
    artifact: { files: tree.files, bytes: tree.bytes, tarball_bytes: releases[0]!.size },
    strategy: "all-at-once",
    raw_download: "node:http GET of /v1/releases/<id>/artifact, sha256 while streaming to a file",
    raw_extractors: {
      extract: "extractArchive (src/artifact/extract.ts), all N in the bench process",
      tar: "one `tar -xzf` process per server",
    },
    runs,
    target_ratio: TARGET_RATIO,
    per_count: perCount,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Flushes the previous run's dirty pages, so its writeback does not land in the next run. */
async function quiesce(): Promise<void> {
  await execFileAsync("sync");
  await sleep(QUIESCE_MS);
}

async function report(results: FanoutResults): Promise<void> {
  const RAW_LABEL: Record<Extractor, string> = {
    extract: "raw s (extractArchive)",
    tar: "raw s (tar -xzf)",
  };
  const summary = markdownTable(
    [
      "servers",
      "strata s",
      ...extractors.flatMap((e) => [
        RAW_LABEL[e],
        `strata / raw (${e === "tar" ? "tar" : "extractArchive"})`,
        "paired",
      ]),
      "all healthy s",
      "after last extract s",
      "strata runs",
      ...extractors.map((e) => `raw runs (${e})`),
    ],
    results.per_count.map((r) => [
      r.servers,
      r.strata_s.toFixed(2),
      ...extractors.flatMap((e) => [
        r.raw_s[e]!.toFixed(2),
        `**${r.ratio[e]!.toFixed(2)}**${r.ratio[e]! <= TARGET_RATIO ? "" : " (over 1.3)"}`,
        r.paired_ratio[e]!.toFixed(2),
      ]),
      median(r.strata_runs.map((x) => x.all_healthy_s)).toFixed(2),
      median(r.strata_runs.map((x) => x.after_extract_s)).toFixed(2),
      r.strata_runs.map((x) => x.seconds.toFixed(2)).join(", "),
      ...extractors.map((e) => r.raw_runs[e]!.map((x) => x.seconds.toFixed(2)).join(", ")),
    ]),
  );
  const stepNames = [
    ...new Set(
      results.per_count.flatMap((r) => r.strata_runs.flatMap((x) => Object.keys(x.steps))),
    ),
  ];
  const middle = <T extends { seconds: number }>(xs: T[]): T =>
    [...xs].sort((a, b) => a.seconds - b.seconds)[xs.length >> 1]!;
  const cell = (s: StepStats | undefined) => (s ? `${s.median_ms} / ${s.max_ms}` : "");
  const steps = markdownTable(
    [
      "servers",
      "wake-up s",
      ...stepNames,
      "tail s",
      ...extractors.flatMap((e) => [`raw ${e}: download+sha256`, `raw ${e}: extract`]),
    ],
    results.per_count.map((r) => {
      const mid = middle(r.strata_runs);
      return [
        r.servers,
        `${mid.first_step_s.median.toFixed(2)} / ${mid.first_step_s.max.toFixed(2)}`,
        ...stepNames.map((name) => cell(mid.steps[name])),
        mid.tail_s.toFixed(2),
        ...extractors.flatMap((e) => {
          const raw = middle(r.raw_runs[e]!);
          return [cell(raw.download_verify_ms), cell(raw.extract_ms)];
        }),
      ];
    }),
  );
  const a = results.artifact;
  const files = await writeReport({
    name: "fanout",
    title: "Pull-deploy fan-out",
    command: COMMAND,
    machine,
    results,
    markdown: `
Artifact: ${a.files} generated files (${(a.bytes / 1e6).toFixed(1)} MB, ~85% incompressible) plus
examples/hello, a ${(a.tarball_bytes / 1e6).toFixed(1)} MB tarball. Strategy \`all-at-once\`: every
agent fetches in parallel. **strata s**: from the deploy call (API) until the deployment succeeded
(every agent fetched, verified, extracted, ran its hooks, switched, restarted and passed its health
check), median of ${runs} runs. **raw s**: the same work without strata, N at once: an HTTP GET of
the same artifact URL from the same control plane with sha256 while streaming to a file, then
extraction into a temp folder by \`extractArchive\` (all N in the bench process)${
      extractors.includes("tar") ? " or by one `tar -xzf` process per server" : ""
    }. Runs interleaved (strata, raw..., then reversed; \`sync\` and a pause after each). Target:
strata / raw within ${TARGET_RATIO}: the ratio of the medians, and **paired**, the median of the
per-run ratios (a strata run against the raw run next to it in time, which cancels much of the
noise of a shared machine). **after last extract s**: from the end of the last extraction until
the deployment succeeded (hooks, switch, restart, health check, pruning, reports: what strata adds
after the raw work), median.

${summary}

Where the time goes, in the median run of each kind: milliseconds per step, median / max over the
servers (strata: the deployment's \`servers[].steps[].duration_ms\`); wake-up: seconds from the
deploy call until each server's first step started (median / max); tail: from the end of the
last step of any server until the deployment finished (the agents prune old releases before their
final report; then the control plane's bookkeeping).

${steps}
  `,
  });
  log(`wrote ${files.join(", ")}`);
  console.log(
    JSON.stringify(
      results.per_count.map(({ servers, strata_s, raw_s, ratio, paired_ratio }) => ({
        servers,
        strata_s,
        raw_s,
        ratio,
        paired_ratio,
      })),
    ),
  );
}

const machine = machineInfo();
await withBenchPlane(
  {
    tempPrefix: "strata-bench-fanout-",
    yaml: [
      "heartbeat_interval: 2s",
      // Busy agents on 2 cores must not be taken for dead.
      "heartbeat_timeout: 120s",
      "deploy: { server_timeout: 300s, drain_timeout: 1s }",
    ],
  },
  async (bench) => {
    const results = await measure(bench);
    // Before the plane, its agents and their unpacked releases are removed, which takes a while.
    await report(results);
  },
);
