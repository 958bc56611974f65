/**
 * The out-of-service window of each server during a deploy (issue 8, item 9):
 * from the moment its wave leaves the balancer (draining) to the moment it is
 * back (succeeded), with and without staging the release on every server
 * first. Both control planes run side by side and deploys alternate between
 * them, so the machine's load falls on both alike.
 *
 *   npm run bench -- out-of-service [-- --runs 3 --servers 4 --mib 40]
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { DeploymentView } from "../src/wire/deployment.js";
import type { StatusView } from "../src/wire/server.js";
import { buildRelease } from "../src/cli/commands/build.js";
import { generateAppTree } from "./lib/app-tree.js";
import { startBenchPlane, type BenchPlane } from "./lib/plane.js";
import { machineInfo, markdownTable, median, round, summarize, writeReport } from "./lib/report.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    servers: { type: "string", default: "4" },
    mib: { type: "string", default: "40" },
  },
});
const RUNS = Number(values.runs);
const SERVERS = Number(values.servers);
const BYTES = Number(values.mib) * 1024 * 1024;

type Mode = "fetch inside the window (before)" | "staged first (after)";
const BEFORE: Mode = "fetch inside the window (before)";
const AFTER: Mode = "staged first (after)";
const MODES: Mode[] = [BEFORE, AFTER];
const STRATEGIES = ["rolling", "all-at-once"] as const;

async function waitServing(b: BenchPlane, version: string): Promise<void> {
  for (;;) {
    const s = await b.client.get<StatusView>("/v1/status?group=web");
    if (s.servers.filter((x) => x.in_service && x.version === version).length === SERVERS) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Deploys and returns each server's out-of-service window in seconds, as the
 * balancer saw it: its membership is sampled every 10 ms while the deploy runs.
 */
async function deploy(b: BenchPlane, version: string, strategy: string): Promise<number[]> {
  const away = new Map<string, bigint>();
  const windows: number[] = [];
  let running = true;
  const sampler = (async () => {
    while (running) {
      const members = new Set((await b.plane.balancer.members("web")).map((m) => m.id));
      const now = process.hrtime.bigint();
      for (const name of servers) {
        if (!members.has(name) && !away.has(name)) away.set(name, now);
        if (members.has(name) && away.has(name)) {
          windows.push(Number(now - away.get(name)!) / 1e9);
          away.delete(name);
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = await b.client.post<DeploymentView>("/v1/deployments", {
    app: "hello",
    group: "web",
    version,
    strategy,
  });
  let done: DeploymentView;
  for (;;) {
    done = await b.client.get<DeploymentView>(`/v1/deployments/${started.id}`);
    if (done.state !== "running") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitServing(b, version);
  await new Promise((r) => setTimeout(r, 50));
  running = false;
  await sampler;
  if (done.state !== "succeeded") throw new Error(`deployment ${done.state}: ${done.error}`);
  if (windows.length !== SERVERS) throw new Error(`saw ${windows.length} windows, not ${SERVERS}`);
  return windows;
}

let servers: string[] = [];
const planes = new Map<Mode, BenchPlane>();
const results: Record<string, number[]> = {};
try {
  const app = await mkdtemp(join("/tmp", "strata-oos-app-"));
  const tree = await generateAppTree(app, { files: 500, bytes: BYTES });
  for (const mode of MODES) {
    const b = await startBenchPlane({
      tempPrefix: "strata-oos-",
      yaml: ["heartbeat_interval: 500ms", "deploy: { server_timeout: 300s, drain_timeout: 5s }"],
      stageFirst: mode === "staged first (after)",
    });
    planes.set(mode, b);
    await b.client.post("/v1/fleet/up", { group: "web", count: SERVERS });
    // A first release, so that every measured deploy replaces one that serves.
    await writeFile(join(app, "message.txt"), "release 0.0.0\n");
    await buildRelease(b.client, app, "hello", "0.0.0");
    await b.client.post("/v1/deployments", {
      app: "hello",
      group: "web",
      version: "0.0.0",
      batch: "100%",
    });
    await waitServing(b, "0.0.0");
  }
  let n = 0;
  for (let run = 0; run < RUNS; run++) {
    for (const strategy of STRATEGIES) {
      for (const mode of MODES) {
        const b = planes.get(mode)!;
        // Each deploy is new content, so every server has to fetch it.
        const version = `1.${n++}.0`;
        await writeFile(join(app, "message.txt"), `release ${version}\n`);
        await buildRelease(b.client, app, "hello", version);
        servers = (await b.client.get<StatusView>("/v1/status?group=web")).servers.map(
          (x) => x.name,
        );
        const windows = await deploy(b, version, strategy);
        (results[`${strategy} | ${mode}`] ??= []).push(...windows);
        process.stderr.write(
          `${strategy} ${mode} run ${run + 1}: median ${round(median(windows), 3)} s\n`,
        );
      }
    }
  }
  const rows = STRATEGIES.flatMap((strategy) => {
    const before = summarize(results[`${strategy} | ${BEFORE}`]!);
    const after = summarize(results[`${strategy} | ${AFTER}`]!);
    return [
      [
        strategy,
        BEFORE,
        before.count,
        round(before.p50, 3),
        round(before.p90, 3),
        round(before.max, 3),
        "1.00",
      ],
      [
        strategy,
        AFTER,
        after.count,
        round(after.p50, 3),
        round(after.p90, 3),
        round(after.max, 3),
        round(after.p50 / before.p50, 2),
      ],
    ];
  });
  const command = `npm run bench -- out-of-service -- --runs ${RUNS} --servers ${SERVERS} --mib ${values.mib}`;
  const paths = await writeReport({
    name: "out-of-service",
    command,
    machine: machineInfo(),
    title: "Out-of-service window per server during a deploy",
    results: { runs: RUNS, servers: SERVERS, app: tree, windows_s: results },
    markdown: [
      `${SERVERS} local servers per control plane, a ${(tree.bytes / 1024 / 1024).toFixed(0)} MiB app of ${tree.files} files,`,
      `${RUNS} deploys per row (each new content), both control planes side by side, alternating.`,
      "The window is the time a server is absent from the balancer's members (sampled every 10 ms).",
      "",
      markdownTable(
        ["strategy", "mode", "windows", "p50 (s)", "p90 (s)", "max (s)", "p50 ratio to before"],
        rows,
      ),
    ].join("\n"),
  });
  process.stderr.write(`wrote ${paths.join(", ")}\n`);
} finally {
  for (const b of planes.values()) await b.close();
}
