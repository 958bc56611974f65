/**
 * Wake-up latency of the desired-state long poll. W servers are joined (no agent processes) and
 * each is watched by one lightweight long poll `GET /v1/agents/desired?after=G&wait=30` with its
 * own token, from a worker thread (bench/lib/watchers.ts), so reading the answers does not share
 * an event loop with the control plane. Per watcher: the time from the change until its long
 * poll answered with the new generation. Two ways to change desired state, each for --rounds:
 * - `deploy`: a real control plane and a real `all-at-once` deploy through `POST /v1/deployments`
 *   (timed from the deploy call). Nothing runs the release, so each deployment fails after
 *   `deploy.server_timeout` and is waited out before the next round.
 * - `set-desired`: the long-poll path alone (agent routes, Fleet auth, LocalCoordinator, SQLite)
 *   and `coordinator.setDesired` for every server started in one tick (timed from that tick).
 * Usage: npx tsx bench/wakeup.bench.ts [--watchers 1000] [--rounds 3]
 *   [--changes deploy,set-desired] [--cpu-profile DIR] [--net 127.92]
 * Writes docs/benchmarks/wakeup.json and docs/benchmarks/wakeup.md.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { buildRelease } from "../src/cli/commands/build.js";
import type { JoinResponse } from "../src/wire/agent.js";
import type { DeploymentView } from "../src/wire/deployment.js";
import { EXAMPLE_APP } from "./lib/app-tree.js";
import { startLongPollServer } from "./lib/long-poll-server.js";
import { waitFor, withBenchPlane } from "./lib/plane.js";
import {
  machineInfo,
  markdownTable,
  round,
  secondsSince,
  summarize,
  writeReport,
  type Summary,
} from "./lib/report.js";
import type { WatcherData, WatcherMessage, WatcherResult } from "./lib/watchers.js";

const { values } = parseArgs({
  options: {
    watchers: { type: "string", default: "1000" },
    rounds: { type: "string", default: "3" },
    changes: { type: "string", default: "deploy,set-desired" },
    /** Folder for a V8 CPU profile of the control plane's thread per round. */
    "cpu-profile": { type: "string" },
    /** `127.a` of every address the bench uses (API, servers, watchers' addresses). */
    net: { type: "string", default: "127.92" },
  },
});
const NET = values.net;
const watcherCount = Number(values.watchers);
const rounds = Math.max(1, Number(values.rounds));
const changes = values.changes.split(",");
for (const c of changes)
  if (c !== "deploy" && c !== "set-desired") throw new Error(`--changes: unknown "${c}"`);
const COMMAND = `npx tsx bench/wakeup.bench.ts --watchers ${watcherCount} --rounds ${rounds} --changes ${changes.join(",")}`;
const GROUP = "web";
const WAIT_SECONDS = 30;
const TARGET_P99_MS = 200;
/** Pause between the last long poll going out and the change, for the server to park them all. */
const SETTLE_MS = 3000;

const log = (line: string) => process.stderr.write(`wakeup: ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Round {
  /** Milliseconds from the change until each watcher saw the new generation. */
  latency_ms: Summary;
  /** Milliseconds until the change call returned (the API's 202, or every setDesired). */
  change_returned_ms: number;
  /** Watchers whose poll ended without a new generation, or failed. */
  missed: number;
  errors: string[];
}

interface Scenario {
  name: "deploy" | "set-desired";
  change: string;
  latency_ms: Summary;
  rounds: Round[];
}

/** A worker full of watchers; the tsx loader is registered in it (Node 20 workers do not inherit it). */
function startWatchers(data: WatcherData): Worker {
  const register = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const watchers = JSON.stringify(import.meta.resolve("./lib/watchers.ts"));
  const entry = `import(${register}).then(({ register }) => { register(); return import(${watchers}); })`;
  return new Worker(entry, { eval: true, workerData: data });
}

function nextMessage<T extends WatcherMessage["type"]>(
  worker: Worker,
  type: T,
  timeoutMs: number,
): Promise<Extract<WatcherMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      worker.off("message", onMessage);
      worker.off("error", onError);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`watchers: no ${type} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: WatcherMessage) => {
      if (message.type !== type) return;
      stop();
      resolve(message as Extract<WatcherMessage, { type: T }>);
    };
    const onError = (err: Error) => {
      stop();
      reject(new Error(`watchers: ${err.message}`, { cause: err }));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
  });
}

async function profiled<T>(label: string, work: () => Promise<T>): Promise<T> {
  const dir = values["cpu-profile"];
  if (!dir) return work();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  try {
    return await work();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    await mkdir(dir, { recursive: true });
    const file = join(dir, `wakeup-${label}-${Date.now()}.cpuprofile`);
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
    log(`CPU profile: ${file}`);
  }
}

const rounded = (s: Summary): Summary => ({
  count: s.count,
  min: round(s.min, 1),
  p50: round(s.p50, 1),
  p90: round(s.p90, 1),
  p99: round(s.p99, 1),
  max: round(s.max, 1),
  mean: round(s.mean, 1),
});

/**
 * Runs `rounds` rounds: park every watcher's long poll, call `change`, collect the answers,
 * then `settle` (e.g. wait for the deployment to end) before the next round.
 */
async function measure(
  name: Scenario["name"],
  change: string,
  data: WatcherData,
  act: () => Promise<{ settle: () => Promise<void> }>,
): Promise<Scenario> {
  const worker = startWatchers(data);
  try {
    const perRound: Round[] = [];
    const all: number[] = [];
    for (let r = 0; r < rounds; r++) {
      worker.postMessage({ type: "arm" });
      const armed = await nextMessage(worker, "armed", 120_000);
      const answered = nextMessage(worker, "result", (WAIT_SECONDS + 30) * 1000);
      await sleep(SETTLE_MS);
      const { start, returned, settle, results } = await profiled(`${name}-${r + 1}`, async () => {
        const start = process.hrtime.bigint();
        const { settle } = await act();
        const returned = Number(process.hrtime.bigint() - start) / 1e6;
        return { start, returned, settle, results: (await answered).results };
      });
      const woken = results.filter((x: WatcherResult) => !x.error && x.generation > x.after);
      const latencies = woken.map((x) => (x.at_ns - Number(start)) / 1e6);
      if (latencies.some((ms) => ms < 0)) throw new Error(`${name}: a watcher answered early`);
      await settle();
      const errors = [...armed.errors, ...results.flatMap((x) => (x.error ? [x.error] : []))];
      const result: Round = {
        latency_ms: rounded(summarize(latencies)),
        change_returned_ms: round(returned, 1),
        missed: results.length - woken.length,
        errors: errors.slice(0, 5),
      };
      perRound.push(result);
      all.push(...latencies);
      const l = result.latency_ms;
      log(
        `${name} round ${r + 1}: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, ` +
          `missed ${result.missed}, change returned after ${result.change_returned_ms} ms`,
      );
    }
    return { name, change, latency_ms: rounded(summarize(all)), rounds: perRound };
  } finally {
    await worker.terminate();
  }
}

async function deployScenario(): Promise<Scenario> {
  return withBenchPlane(
    {
      tempPrefix: "strata-bench-wakeup-",
      apiPrefix: `${NET}.1`,
      serverPrefix: `${NET}.2`,
      yaml: [
        // Joined servers never heartbeat: keep them online for the whole run.
        "heartbeat_timeout: 1h",
        // Watchers join under names of their own with the cluster token.
        "join: { cluster_token: true }",
        "deploy: { server_timeout: 10s, drain_timeout: 1s }",
      ],
    },
    async ({ plane, client }) => {
      const release = await buildRelease(client, EXAMPLE_APP, "hello", "1.0.0");
      const joining = process.hrtime.bigint();
      const prefix = NET; // watchers' addresses: ${NET}.10.x and up
      const tokens = new Array<string>(watcherCount);
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < watcherCount) {
            const i = next++;
            const res = await fetch(`${plane.url}/v1/agents/join`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                join_token: plane.joinToken,
                name: `watcher-${i}`,
                group: GROUP,
                // Never contacted: nothing runs there and no watcher enters the balancer.
                address: `${prefix}.${Math.floor(i / 250) + 10}.${(i % 250) + 2}`,
              }),
            });
            if (!res.ok) throw new Error(`join watcher-${i}: HTTP ${res.status}`);
            tokens[i] = ((await res.json()) as JoinResponse).token;
          }
        }),
      );
      log(`joined ${watcherCount} servers in ${secondsSince(joining).toFixed(1)} s`);
      return measure(
        "deploy",
        "POST /v1/deployments (all-at-once) to the group of every watcher's server",
        { url: plane.url, tokens, waitSeconds: WAIT_SECONDS },
        async () => {
          const deployment = await client.post<DeploymentView>("/v1/deployments", {
            app: "hello",
            group: GROUP,
            version: release.version,
            strategy: "all-at-once",
          });
          return {
            // No agent reports: the deployment fails after deploy.server_timeout and rolls back.
            settle: async () => {
              await waitFor(
                `deployment ${deployment.id} to end`,
                async () => {
                  const d = await client.get<DeploymentView>(`/v1/deployments/${deployment.id}`);
                  return d.state !== "running";
                },
                120_000,
              );
            },
          };
        },
      );
    },
  );
}

async function setDesiredScenario(): Promise<Scenario> {
  const dir = await mkdtemp(join(tmpdir(), "strata-bench-wakeup-"));
  const server = await startLongPollServer({ dir, host: `${NET}.3.1` });
  try {
    const joining = process.hrtime.bigint();
    const tokens = await server.join(watcherCount, GROUP, "watcher");
    log(`joined ${watcherCount} servers (in-process) in ${secondsSince(joining).toFixed(1)} s`);
    const releases = ["1", "2"].map((digit, i) => ({
      id: `sha256:${digit.repeat(64)}`,
      app: "hello",
      version: `1.0.${i}`,
      size: 1,
      artifact_path: `/v1/releases/sha256:${digit.repeat(64)}/artifact`,
    }));
    for (const release of releases) await server.addRelease(release);
    const names = Array.from({ length: watcherCount }, (_, i) => `watcher-${i}`);
    let turn = 0;
    return await measure(
      "set-desired",
      "coordinator.setDesired for every watcher's server, all started in one tick",
      { url: server.url, tokens, waitSeconds: WAIT_SECONDS },
      async () => {
        const release = releases[turn++ % 2]!;
        await Promise.all(names.map((name) => server.coordinator.setDesired(name, release)));
        return { settle: async () => {} };
      },
    );
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const machine = machineInfo();
const scenarios: Scenario[] = [];
if (changes.includes("deploy")) scenarios.push(await deployScenario());
if (changes.includes("set-desired")) scenarios.push(await setDesiredScenario());
const results = {
  watchers: watcherCount,
  wait_seconds: WAIT_SECONDS,
  target_p99_ms: TARGET_P99_MS,
  scenarios,
};

const row = (label: string, s: Summary, extra: (string | number)[]) => [
  label,
  s.count,
  s.p50,
  s.p90,
  `**${s.p99}**${s.p99 < TARGET_P99_MS ? "" : " (over 200)"}`,
  s.max,
  ...extra,
];
const table = markdownTable(
  ["change", "answers", "p50 ms", "p90 ms", "p99 ms", "max ms", "change returned ms", "missed"],
  scenarios.flatMap((s) => [
    row(`**${s.name}**, all rounds`, s.latency_ms, [
      "",
      s.rounds.reduce((n, r) => n + r.missed, 0),
    ]),
    ...s.rounds.map((r, i) =>
      row(`${s.name}, round ${i + 1}`, r.latency_ms, [r.change_returned_ms, r.missed]),
    ),
  ]),
);
const byName = new Map(scenarios.map((s) => [s.name, s]));
const deploy = byName.get("deploy");
const baseline = byName.get("set-desired");
const ratio =
  deploy && baseline
    ? `A deploy against the long-poll path alone, in this run: p50 ×${round(deploy.latency_ms.p50 / baseline.latency_ms.p50, 2)}, p99 ×${round(deploy.latency_ms.p99 / baseline.latency_ms.p99, 2)} (what the deployer adds before the first wake-up).`
    : "";
const loadAtEnd = round(loadavg()[0] ?? 0, 2);
const files = await writeReport({
  name: "wakeup",
  title: "Desired-state wake-up latency",
  command: COMMAND,
  machine,
  results,
  markdown: `
${watcherCount} servers joined (no agent processes), each watched by one long poll
\`GET /v1/agents/desired?after=G&wait=${WAIT_SECONDS}\` with its own token, from a worker thread (plain
node:http, one keep-alive socket each). Latency per watcher: from the change until its long poll
answered with the new generation; ${rounds} rounds per change; target p99 under ${TARGET_P99_MS} ms.
Round 1 of each change is the first use of its code path since the process started (cold JIT).

- **deploy**: a real control plane; the change is a real \`all-at-once\` deploy through
  \`POST /v1/deployments\`, timed from the deploy call.
- **set-desired**: the long-poll path alone (agent routes, Fleet authentication,
  LocalCoordinator, SQLite store; no deployer); \`coordinator.setDesired\` for every server,
  all started in one tick, timed from that tick.

${table}

${ratio}
The 1-minute load average was ${machine.load_1m} at the start and ${loadAtEnd} at the end, on
${machine.cpus} cores shared with other jobs (this bench ran under \`nice\`): wall-clock figures
are upper bounds.
`,
});
log(`wrote ${files.join(", ")}`);
console.log(JSON.stringify(scenarios.map((s) => ({ change: s.name, latency_ms: s.latency_ms }))));
