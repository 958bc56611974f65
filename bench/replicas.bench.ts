/**
 * Simulated agents against control-plane processes: the embedded default (one replica:
 * SQLite, in-process coordination, local artifacts) beside two replicas on PostgreSQL + etcd +
 * S3 (Swift s3api), all started by scripts/ci/engines.sh. Per setup and agent count: N servers
 * join (spread over the replicas), each heartbeats once (API latency of join and heartbeat),
 * then each parks a long poll `GET /v1/agents/desired` on its replica from a worker thread and
 * one `all-at-once` deploy call goes to the first replica: wake-up latency from the call until
 * each poll answered with the new generation, and CPU seconds each replica used meanwhile.
 * Nothing runs the release: the deployment fails after `deploy.server_timeout` and is waited out,
 * and the polls are parked and the deploy called again, `--rounds` times; the round with the
 * median wake-up p99 is reported (on a shared machine one round is at the mercy of its neighbours).
 * Usage: npx tsx bench/replicas.bench.ts [--agents 1000,5000] [--setups embedded,engines]
 *   [--rounds 3] [--cpu-profile DIR] [--net 127.92]
 * Writes docs/benchmarks/replicas.json and docs/benchmarks/replicas.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import pg from "pg";
import { ApiClient } from "../src/cli/client.js";
import { buildRelease } from "../src/cli/commands/build.js";
import { ENGINES } from "../src/lib/engine-tests.js";
import type { JoinResponse } from "../src/wire/agent.js";
import type { DeploymentView } from "../src/wire/deployment.js";
import { stopBalancerDaemon } from "../test/e2e/harness.js";
import { EXAMPLE_APP } from "./lib/app-tree.js";
import { waitFor } from "./lib/plane.js";
import {
  machineInfo,
  markdownTable,
  round,
  summarize,
  writeReport,
  type Summary,
} from "./lib/report.js";
import type { WatcherData, WatcherMessage, WatcherResult } from "./lib/watchers.js";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "1000,5000" },
    setups: { type: "string", default: "embedded,engines" },
    rounds: { type: "string", default: "3" },
    /** Folder for V8 CPU profiles of the replica processes (written when they exit). */
    "cpu-profile": { type: "string" },
    /** `127.a` of every address the bench uses (replicas, agents' addresses). */
    net: { type: "string", default: "127.92" },
  },
});
const NET = values.net;
const counts = values.agents.split(",").map(Number);
const setups = values.setups.split(",") as ("embedded" | "engines")[];
const ROUNDS = Number(values.rounds);
const COMMAND = `npx tsx bench/replicas.bench.ts --agents ${counts.join(",")} --setups ${setups.join(",")} --rounds ${ROUNDS}`;
const CLI = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const WAIT_SECONDS = 60;
const TICKS_PER_SECOND = 100; // Linux USER_HZ
const log = (line: string) => process.stderr.write(`replicas: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Replica {
  child: ChildProcess;
  url: string;
  /** Its data folder, where its balancer daemon's pid is. */
  dataDir: string;
}

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND; // utime + stime
}

async function startReplicas(setup: "embedded" | "engines", dir: string, schema: string) {
  const hosts = setup === "engines" ? [`${NET}.0.30`, `${NET}.0.31`] : [`${NET}.0.30`];
  const admin = randomBytes(24).toString("hex");
  const join_ = randomBytes(24).toString("hex");
  const prefix = `bench-${randomBytes(4).toString("hex")}`;
  const replicas: Replica[] = [];
  for (const [i, host] of hosts.entries()) {
    const dataDir = join(dir, `replica-${i}`);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(join(dataDir, "admin-token"), admin + "\n", { mode: 0o600 });
    await writeFile(join(dataDir, "join-token"), join_ + "\n", { mode: 0o600 });
    const yaml = [
      `data_dir: ${dataDir}`,
      `listen: "${host}:0"`,
      `balancer: { host: "${host}" }`,
      "heartbeat_timeout: 1h",
      // Simulated agents join under names of their own with the cluster token.
      "join: { cluster_token: true }",
      // Long enough that the deployment's failure (nothing runs the release) comes after every
      // long poll has answered, not inside the window measured; short enough for a few rounds.
      // (A poll answered after it still counts when it answers: its generation moved on.)
      "deploy: { server_timeout: 15s, drain_timeout: 1s }",
      ...(setup === "engines"
        ? [
            `state: { postgres: { url: "${ENGINES.postgresUrl}", schema: ${schema}, max_connections: 20 } }`,
            `coordination: { etcd: { endpoints: ${JSON.stringify(ENGINES.etcdEndpoints)}, prefix: /${prefix} } }`,
            `artifacts: { s3: { endpoint: "${ENGINES.s3.endpoint}", bucket: strata-bench, region: ${ENGINES.s3.region}, prefix: ${prefix}/, access_key_id: "${ENGINES.s3.accessKeyId}" } }`,
          ]
        : []),
    ];
    const config = join(dir, `replica-${i}.yaml`);
    await writeFile(config, yaml.join("\n"));
    const profile = values["cpu-profile"];
    const node = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
    const child = spawn(
      process.execPath,
      [...node, "--import", "tsx", CLI, "server", "--config", config],
      {
        env: { ...process.env, STRATA_S3_SECRET_ACCESS_KEY: ENGINES.s3.secretAccessKey },
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const info = await waitFor(`replica ${i}`, async () => {
      if (child.exitCode !== null) throw new Error(`replica ${i} exited`);
      return JSON.parse(await readFile(join(dataDir, "server.json"), "utf8")) as { url: string };
    });
    replicas.push({ child, url: info.url, dataDir });
  }
  return { replicas, admin, join: join_ };
}

/** Runs `work(i)` for 0..n-1, `limit` at once; returns each call's latency in ms. */
async function timedEach(n: number, limit: number, work: (i: number) => Promise<void>) {
  const latencies = new Array<number>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) {
        const i = next++;
        const start = process.hrtime.bigint();
        await work(i);
        latencies[i] = Number(process.hrtime.bigint() - start) / 1e6;
      }
    }),
  );
  return latencies;
}

function startWatchers(data: WatcherData): Worker {
  const register = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const watchers = JSON.stringify(import.meta.resolve("./lib/watchers.ts"));
  const entry = `import(${register}).then(({ register }) => { register(); return import(${watchers}); })`;
  return new Worker(entry, { eval: true, workerData: data });
}

function next<T extends WatcherMessage["type"]>(worker: Worker, type: T) {
  return new Promise<Extract<WatcherMessage, { type: T }>>((resolve, reject) => {
    const onMessage = (m: WatcherMessage) => {
      if (m.type !== type) return;
      worker.off("message", onMessage);
      resolve(m as Extract<WatcherMessage, { type: T }>);
    };
    worker.on("message", onMessage);
    worker.once("error", reject);
  });
}

const rounded = (s: Summary) => ({
  count: s.count,
  p50: round(s.p50, 1),
  p99: round(s.p99, 1),
  max: round(s.max, 1),
});

async function run(setup: "embedded" | "engines", n: number) {
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-replicas-"));
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const { replicas, admin, join: joinToken } = await startReplicas(setup, dir, schema);
  const workers: Worker[] = [];
  try {
    const client = new ApiClient(replicas[0]!.url, admin);
    const release = await buildRelease(client, EXAMPLE_APP, "hello", "1.0.0");
    const tokens = new Array<string>(n);
    const replicaOf = (i: number) => replicas[i % replicas.length]!;
    const join = await timedEach(n, 32, async (i) => {
      const res = await fetch(`${replicaOf(i).url}/v1/agents/join`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          join_token: joinToken,
          name: `agent-${i}`,
          group: "web",
          address: `${NET}.${10 + Math.floor(i / 250)}.${(i % 250) + 2}`,
        }),
      });
      if (!res.ok) throw new Error(`join agent-${i}: HTTP ${res.status} ${await res.text()}`);
      tokens[i] = ((await res.json()) as JoinResponse).token;
    });
    const heartbeat = await timedEach(n, 32, async (i) => {
      const res = await fetch(`${replicaOf(i).url}/v1/agents/heartbeat`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${tokens[i]}` },
        body: JSON.stringify({ current_release: null, app_healthy: false, app_port: null }),
      });
      if (!res.ok) throw new Error(`heartbeat agent-${i}: HTTP ${res.status}`);
      await res.arrayBuffer();
    });
    log(`${setup} ${n}: joined and heartbeated`);
    const shares = replicas.map((_, r) => tokens.filter((_, i) => i % replicas.length === r));
    for (const [r, share] of shares.entries())
      workers.push(
        startWatchers({ url: replicas[r]!.url, tokens: share, waitSeconds: WAIT_SECONDS }),
      );
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const answers = workers.map((w) => next(w, "result"));
      const armed = workers.map((w) => next(w, "armed"));
      for (const w of workers) w.postMessage({ type: "arm" });
      await Promise.all(armed);
      await sleep(3000); // let every replica park its long polls
      const load = loadavg()[0] ?? 0;
      const cpuBefore = await Promise.all(replicas.map((r) => cpuSeconds(r.child.pid!)));
      const start = process.hrtime.bigint();
      const deployment = await client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        group: "web",
        version: release.version,
        strategy: "all-at-once",
      });
      const returnedMs = Number(process.hrtime.bigint() - start) / 1e6;
      const results: WatcherResult[] = (await Promise.all(answers)).flatMap((m) => m.results);
      const cpuAfter = await Promise.all(replicas.map((r) => cpuSeconds(r.child.pid!)));
      const woken = results.filter((x) => !x.error && x.generation > x.after);
      const wake = woken.map((x) => (x.at_ns - Number(start)) / 1e6);
      await waitFor(
        "the deployment to end",
        async () =>
          (await client.get<DeploymentView>(`/v1/deployments/${deployment.id}`)).state !==
          "running",
        300_000,
      );
      rounds.push({
        wakeup_ms: rounded(summarize(wake)),
        deploy_call_ms: round(returnedMs, 1),
        missed: results.length - woken.length,
        load_1m: round(load, 1),
        cpu_seconds_per_replica: cpuAfter.map((c, i) => round(c - cpuBefore[i]!, 2)),
        errors: results.flatMap((x) => (x.error ? [x.error] : [])).slice(0, 3),
      });
      log(`${setup} ${n} round ${r + 1}: ${JSON.stringify(rounds.at(-1))}`);
    }
    const byP99 = [...rounds].sort((a, b) => a.wakeup_ms.p99 - b.wakeup_ms.p99);
    const result = {
      setup,
      replicas: replicas.length,
      agents: n,
      join_ms: rounded(summarize(join)),
      heartbeat_ms: rounded(summarize(heartbeat)),
      ...byP99[(byP99.length - 1) >> 1]!,
      wakeup_p99_ms_rounds: rounds.map((x) => x.wakeup_ms.p99),
    };
    log(JSON.stringify(result));
    return result;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const r of replicas) r.child.kill("SIGTERM");
    await Promise.all(
      replicas.filter((r) => r.child.exitCode === null).map((r) => once(r.child, "exit")),
    );
    // A `strata server` stopped while servers are registered leaves its balancer daemon serving.
    for (const r of replicas) await stopBalancerDaemon(r.dataDir);
    if (setup === "engines") {
      const db = new pg.Client({ connectionString: ENGINES.postgresUrl });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

const machine = machineInfo();
const results: Awaited<ReturnType<typeof run>>[] = [];
for (const n of counts) for (const setup of setups) results.push(await run(setup, n));

const label = (r: (typeof results)[number]) =>
  r.setup === "engines" ? `PostgreSQL + etcd + S3, ${r.replicas} replicas` : "embedded, 1 replica";
const table = markdownTable(
  [
    "setup",
    "agents",
    "join p50 / p99 ms",
    "heartbeat p50 / p99 ms",
    "wake-up p50 ms",
    "wake-up p99 ms",
    "p99 of each round",
    "deploy call ms",
    "missed",
    "CPU s per replica (wake-up)",
    "load",
  ],
  results.map((r) => [
    label(r),
    r.agents,
    `${r.join_ms.p50} / ${r.join_ms.p99}`,
    `${r.heartbeat_ms.p50} / ${r.heartbeat_ms.p99}`,
    r.wakeup_ms.p50,
    `**${r.wakeup_ms.p99}**`,
    r.wakeup_p99_ms_rounds.join(", "),
    r.deploy_call_ms,
    r.missed,
    r.cpu_seconds_per_replica.join(" + "),
    r.load_1m,
  ]),
);
const growth = setups.map((setup) => {
  const rows = results.filter((r) => r.setup === setup).sort((a, b) => a.agents - b.agents);
  if (rows.length < 2) return "";
  const [small, big] = [rows[0]!, rows[rows.length - 1]!];
  return `- ${label(big)}: ${small.agents} → ${big.agents} agents (×${big.agents / small.agents}): wake-up p99 ×${round(big.wakeup_ms.p99 / small.wakeup_ms.p99, 2)}, CPU ×${round(
    big.cpu_seconds_per_replica.reduce((a: number, b: number) => a + b, 0) /
      Math.max(
        0.01,
        small.cpu_seconds_per_replica.reduce((a: number, b: number) => a + b, 0),
      ),
    2,
  )}, heartbeat p99 ×${round(big.heartbeat_ms.p99 / small.heartbeat_ms.p99, 2)}.`;
});
const sumCpu = (r: (typeof results)[number]) =>
  r.cpu_seconds_per_replica.reduce((a: number, b: number) => a + b, 0);
const ratios = counts.flatMap((n) => {
  const embedded = results.find((r) => r.setup === "embedded" && r.agents === n);
  const engines = results.find((r) => r.setup === "engines" && r.agents === n);
  if (!embedded || !engines) return [];
  return [
    `- ${n} agents, two replicas on the engines against the embedded default in this run: ` +
      `wake-up p99 ×${round(engines.wakeup_ms.p99 / embedded.wakeup_ms.p99, 2)}, ` +
      `CPU (all replicas) ×${round(sumCpu(engines) / Math.max(0.01, sumCpu(embedded)), 2)}, ` +
      `heartbeat p99 ×${round(engines.heartbeat_ms.p99 / embedded.heartbeat_ms.p99, 2)}.`,
  ];
});
const loads = results.map((r) => r.load_1m);
const target = (r: (typeof results)[number]) =>
  r.setup === "embedded" && r.agents === 1000
    ? `embedded, 1,000 agents: p99 ${r.wakeup_ms.p99} ms against the 200 ms target (${r.wakeup_ms.p99 < 200 ? "met" : "not met"})`
    : r.setup === "engines" && r.agents === 5000
      ? `two replicas on the engines, 5,000 agents: p99 ${r.wakeup_ms.p99} ms against the 1 s target (${r.wakeup_ms.p99 < 1000 ? "met" : "not met"})`
      : "";
const targets = results.map(target).filter(Boolean);
const files = await writeReport({
  name: "replicas",
  title:
    "Simulated agents against one embedded control plane and two replicas on PostgreSQL + etcd",
  command: COMMAND,
  machine,
  results,
  markdown: `
Each setup runs as \`strata server\` processes; the engines are the private instances of
\`scripts/ci/engines.sh start\` on the same machine. Agents are simulated in the bench process:
N joins and N heartbeats (32 at a time, spread over the replicas), then N long polls parked from
one worker thread per replica and one \`all-at-once\` deploy call to the first replica. Wake-up:
from the deploy call until each long poll answered with the new generation (on the second
replica this goes through etcd's watch). CPU: user + system seconds of each replica process
from just before the deploy call until the last poll answered. Each deployment fails after
\`deploy.server_timeout\` (nothing runs the release); then the polls are parked again and the
deploy is called again, ${ROUNDS} time(s) in all on the same replicas: the table shows the round
with the median wake-up p99 (its other columns from that round) and the p99 of every round.

${table}

${growth.filter(Boolean).join("\n")}
${ratios.join("\n")}

Targets in this run: ${targets.length ? targets.join("; ") : "(neither setup measured)"}.

Read the wall-clock columns with the load in mind: the 1-minute load average at each deploy call
was ${Math.min(...loads)} to ${Math.max(...loads)} on 2 cores (other jobs shared the machine; this
bench ran under \`nice\`), so every process waited for a core and the wall-clock figures are
upper bounds. CPU seconds are the steadier comparison.

Not measured here: heartbeats and long polls running at the same time as the deploy (each
phase runs alone), and a real load balancer in front of the replicas.
`,
});
log(`wrote ${files.join(", ")}`);
