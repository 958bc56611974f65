/**
 * Deploys whose cost grows with what changed (issue 13): in one run,
 * interleaved, for N = 1, 10, 25 servers on loopback:
 *
 * - strata, full deploy: every file's content is new (the servers have none of it);
 * - strata, everyday deploy: 1% of 10,000 files changed (~0.5 MB of new content);
 * - strata, whole tarball: a full deploy the way strata did it before the file
 *   store (the release's manifest withheld, so agents fetch and extract the tarball);
 * - Capistrano 3.17 (Debian) pushing the same prebuilt tarball over SSH to N
 *   sshd hosts, each its own address and user (bench/capistrano/setup.sh).
 *
 * Per deploy: wall time from the deploy call to every server serving the new
 * version (strata) or to `cap` exiting (Capistrano); bytes each server
 * downloaded; CPU seconds per server (strata: the agent process; Capistrano:
 * the sshd sessions, tar included, on the hosts); each server's
 * out-of-service window (strata: absent from the balancer). Medians of the runs.
 *
 * Everything (server roots, Capistrano hosts, trees) lives on a journaled
 * ext4 on a loop device made for the run (`--fs journaled-ext4`, the
 * default), as on a VM's disk; `--fs host` uses the host's /tmp. This
 * machine's own ext4 has no journal, and ext4 without one skips, when it
 * creates a file, the inodes freed in the last minute (six while their inode
 * table block is dirty): right after deleting 10,000 files, creating 10,000
 * costs GNU tar 3.4 to 9.2 s of kernel time instead of 0.3 (docs/delta.md), so
 * whichever variant follows a deletion pays for it.
 *
 *   nice npx tsx bench/delta.bench.ts [--runs 3] [--servers 1,10,25] [--files 10000] [--fs journaled-ext4|host]
 *
 * Needs root (users and sshd for Capistrano). Writes docs/benchmarks/delta.{json,md}.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { localArtifactPath } from "../src/artifact/local/local-store.js";
import { packDirectory } from "../src/artifact/pack.js";
import { buildRelease } from "../src/cli/commands/build.js";
import type { DeploymentView } from "../src/wire/deployment.js";
import type { StatusView } from "../src/wire/server.js";
import { generateAppTree } from "./lib/app-tree.js";
import { startBenchPlane, waitFor, type BenchPlane } from "./lib/plane.js";
import { scratchFs } from "./lib/scratch-fs.js";
import { machineInfo, markdownTable, median, round, writeReport } from "./lib/report.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    servers: { type: "string", default: "1,10,25" },
    files: { type: "string", default: "10000" },
    fs: { type: "string", default: "journaled-ext4" },
  },
});
if (values.fs !== "journaled-ext4" && values.fs !== "host") {
  throw new Error(`--fs ${values.fs}: journaled-ext4 or host`);
}
const RUNS = Number(values.runs);
const COUNTS = values.servers.split(",").map(Number);
const FILES = Number(values.files);
const CHANGED = Math.round(FILES / 100);
/** ~0.5 MB of new content over the changed files. */
const CHANGED_BYTES = 512 * 1024;
const CAP_PREFIX = "127.94.100";
const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

type Variant = "strata full" | "strata everyday" | "strata whole tarball (before)" | "capistrano";
const VARIANTS: Variant[] = [
  "strata full",
  "strata everyday",
  "strata whole tarball (before)",
  "capistrano",
];

interface Sample {
  wall_s: number;
  bytes_per_server: number;
  cpu_s_per_server: number;
  out_of_service_s: number[];
  /** After the deploy: until every server's store upkeep (files joining, collection) is done. */
  upkeep_s: number;
  /** Of cpu_s_per_server, the kernel's (file creation...). */
  cpu_system_s_per_server?: number;
}

/** Taken before anything starts: the report says "load at start", and is written after every N. */
const MACHINE = machineInfo();
const scratch = await scratchFs(values.fs);
const work = await mkdtemp(join(scratch.dir, "strata-bench-delta-"));
await chmod(work, 0o711); // the Capistrano hosts' users live below it
const samples: Record<string, Sample[]> = {};
let plane: BenchPlane | null = null;
let version = 0;
/** The version strata deployed last (Capistrano's releases count in `version` too). */
let deployed = "";

/** CPU seconds (user + system) of a process, or of the children it reaped. */
function cpuOf(pid: number, children = false): number {
  const { user, system } = cpuSplit(pid, children);
  return user + system;
}

/** CPU seconds of a process in user space and in the kernel, apart. */
function cpuSplit(pid: number, children = false): { user: number; system: number } {
  const stat = execFileSync("cat", [`/proc/${pid}/stat`], { encoding: "utf8" });
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [u, s] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return { user: Number(u) / TICKS, system: Number(s) / TICKS };
}

function agentPids(root: string): Map<string, number> {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  const pids = new Map<string, number>();
  for (const line of out.split("\n")) {
    const match = new RegExp(`--root ${root}/([^ ]+) `).exec(line);
    if (match && (line.includes(" agent ") || line.includes("strata-agent"))) {
      pids.set(match[1]!, Number(line.trim().split(/\s+/)[0]));
    }
  }
  return pids;
}

function serving(b: BenchPlane, count: number, v: string): Promise<StatusView> {
  return waitFor(
    `${count} server(s) serving ${v}`,
    async () => {
      const s = await b.client.get<StatusView>("/v1/status?group=web");
      const live = s.servers.filter((x) => x.state !== "terminated");
      return live.length === count && live.every((x) => x.in_service && x.version === v) && s;
    },
    600_000,
  );
}

/**
 * Waits until the folders of terminated servers are deleted: a scale-down's
 * removal of 24 servers' releases and stores otherwise competes for the disk
 * with the next measured deploy (the likely reason a run's first deploy at N = 1
 * after N = 25 took twice as long as the rest).
 */
async function rootsGone(b: BenchPlane, live: StatusView): Promise<void> {
  const names = new Set(live.servers.filter((x) => x.state !== "terminated").map((x) => x.name));
  const roots = join(b.plane.dataDir, "servers");
  for (;;) {
    const entries = await readdir(roots, { withFileTypes: true });
    // Server roots only: the folder also holds the agent's bundle (strata-agent-chunks/).
    const servers = entries.filter((e) => e.isDirectory() && /^web-\d+$/.test(e.name));
    if (servers.every((e) => names.has(e.name))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const UPKEEP_DONE = "store upkeep done";

/** How many times a server's agent has finished its store's upkeep. */
async function upkeeps(roots: string, name: string): Promise<number> {
  const log = await readFile(join(roots, name, "agent.log"), "utf8").catch(() => "");
  return log.split(UPKEEP_DONE).length - 1;
}

/** Whether the server's agent has built a release (its `[cas] <release id>: ...` summary). */
async function built(roots: string, name: string): Promise<boolean> {
  const log = await readFile(join(roots, name, "agent.log"), "utf8").catch(() => "");
  return /\[cas\] sha256:[0-9a-f]{64}: /.test(log);
}

/**
 * Waits until every server has finished more store upkeeps than `before`
 * says (at least one for a server it does not name). After a deploy each agent joins
 * the files it extracted to its store and collects what no release names, off
 * the deploy's path; the next build waits for that, so a deploy measured right
 * after another (or after a scale-up's first deploys) would count its upkeep.
 */
async function storesSettled(
  b: BenchPlane,
  names: string[],
  before: Map<string, number>,
): Promise<void> {
  const roots = join(b.plane.dataDir, "servers");
  await waitFor(
    `${names.length} server(s) to finish their store's upkeep`,
    async () => {
      for (const name of names) {
        if ((await upkeeps(roots, name)) <= (before.get(name) ?? 0)) return false;
      }
      return true;
    },
    600_000,
  );
}

/** Rewrites `count` of the tree's text files with fresh content, `bytes` in all. */
async function changeFiles(dir: string, count: number, bytes: number): Promise<void> {
  const files: string[] = [];
  for (const entry of await readdir(join(dir, "assets"), { recursive: true })) {
    if (entry.endsWith(".js")) files.push(join(dir, "assets", entry));
  }
  files.sort();
  const step = Math.floor(files.length / count);
  const salt = randomBytes(8).toString("hex");
  for (let i = 0; i < count; i++) {
    const words = `const changed_${salt}_${i} = ${i};\n`;
    await writeFile(files[i * step]!, words.repeat(Math.ceil(bytes / count / words.length)));
  }
}

/** One strata deploy of the tree at `dir`; `withhold` removes the manifest (the old path). */
async function strataDeploy(b: BenchPlane, dir: string, count: number, withhold = false) {
  const v = `1.${version++}.0`;
  deployed = v;
  await writeFile(join(dir, "message.txt"), `release ${v}\n`);
  const release = await buildRelease(b.client, dir, "hello", v);
  if (withhold) {
    const tarball = localArtifactPath(join(b.plane.dataDir, "artifacts"), release.id);
    await rm(tarball.replace(/\.tar\.gz$/, ".manifest"));
  }
  const roots = join(b.plane.dataDir, "servers");
  const pids = agentPids(roots);
  const names = [...pids.keys()];
  const cpuBefore = new Map(names.map((name) => [name, cpuSplit(pids.get(name)!)]));
  const logSizes = new Map<string, number>();
  const upkeepsBefore = new Map<string, number>();
  for (const name of names) {
    logSizes.set(name, (await readFile(join(roots, name, "agent.log"))).length);
    upkeepsBefore.set(name, await upkeeps(roots, name));
  }
  const away = new Map<string, bigint>();
  const windows: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      // A refused or cut call only skips this sample (one ended a run: "other side closed").
      const listed = await b.plane.balancer.members("web").catch(() => null);
      const members = new Set((listed ?? []).map((m) => m.id));
      const now = process.hrtime.bigint();
      for (const name of listed ? names : []) {
        if (!members.has(name) && !away.has(name)) away.set(name, now);
        if (members.has(name) && away.has(name)) {
          windows.push(Number(now - away.get(name)!) / 1e9);
          away.delete(name);
        }
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const started = process.hrtime.bigint();
  const deployment = await b.client.post<DeploymentView>("/v1/deployments", {
    app: "hello",
    group: "web",
    version: v,
    strategy: "all-at-once",
  });
  let done: DeploymentView;
  for (;;) {
    done = await b.client.get<DeploymentView>(`/v1/deployments/${deployment.id}`);
    if (done.state !== "running") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await serving(b, count, v);
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((r) => setTimeout(r, 50));
  sampling = false;
  await sampler;
  if (done.state !== "succeeded") throw new Error(`deployment ${done.state}: ${done.error}`);
  // The upkeep's CPU counts for the deploy; its time is reported beside the wall time.
  const converged = process.hrtime.bigint();
  await storesSettled(b, names, upkeepsBefore);
  const upkeep = Number(process.hrtime.bigint() - converged) / 1e9;
  // The bake every deploy enqueues runs in the control plane (here, on the same 2 cores), off
  // the deploy's path: the next deploy of any variant, Capistrano's too, starts after it.
  await b.plane.images.idle();
  const cpuAfter = new Map(names.map((name) => [name, cpuSplit(pids.get(name)!)]));
  const cpu = names.map((name) => {
    const [before, after] = [cpuBefore.get(name)!, cpuAfter.get(name)!];
    return after.user + after.system - before.user - before.system;
  });
  const sys = names.map((name) => cpuAfter.get(name)!.system - cpuBefore.get(name)!.system);
  const bytes: number[] = [];
  for (const name of names) {
    const log = (await readFile(join(roots, name, "agent.log"))).subarray(logSizes.get(name)!);
    const said = /distinct files fetched, (\d+) bytes/.exec(
      log
        .toString()
        .split("\n")
        .find((line) => line.includes(release.id) && line.includes("distinct files fetched")) ?? "",
    );
    bytes.push(said ? Number(said[1]) : release.size);
    if (name === names[0]) {
      for (const line of log.toString().split("\n")) {
        if (line.includes('"component":"cas"'))
          process.stderr.write(`  ${name}: ${JSON.parse(line).msg}\n`);
      }
    }
  }
  return {
    wall_s: wall,
    bytes_per_server: median(bytes),
    cpu_s_per_server: median(cpu),
    cpu_system_s_per_server: median(sys),
    out_of_service_s: windows,
    upkeep_s: upkeep,
  };
}

const capWork = join(work, "capistrano");
const setup = join(import.meta.dirname, "capistrano", "setup.sh");

function sshdPids(): number[] {
  const out = execFileSync("sh", ["-c", `cat ${capWork}/sshd-*.pid`], { encoding: "utf8" });
  return out.trim().split(/\s+/).map(Number);
}

async function capistranoDeploy(dir: string, count: number): Promise<Sample> {
  const tarball = join(work, "cap.tar.gz");
  const packed = await packDirectory(dir, tarball);
  const name = `r${version++}`;
  const before = sshdPids().reduce((sum, pid) => sum + cpuOf(pid, true), 0);
  const started = process.hrtime.bigint();
  const run = spawnSync("cap", ["bench", "strata_bench:push"], {
    cwd: join(capWork, "project"),
    env: { ...process.env, BENCH_HOSTS: String(count), TARBALL: tarball, RELEASE: name },
    encoding: "utf8",
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (run.status !== 0) throw new Error(`cap failed: ${run.stderr.slice(-2000)}`);
  // sshd adds a session's CPU to its own children's count once it has reaped it.
  await new Promise((r) => setTimeout(r, 500));
  const after = sshdPids().reduce((sum, pid) => sum + cpuOf(pid, true), 0);
  // Old releases go, unmeasured, so the disk holds one per host.
  spawnSync("sh", [
    "-c",
    `for d in ${capWork}/home/*/app/releases/*; do [ "$(basename "$d")" = ${name} ] || rm -rf "$d"; done`,
  ]);
  await rm(tarball, { force: true });
  return {
    wall_s: wall,
    bytes_per_server: packed.size,
    cpu_s_per_server: (after - before) / count,
    out_of_service_s: [],
    upkeep_s: 0,
  };
}

/** Writes the report from the samples so far (after every N of every run: a cut-short run still reports). */
async function report(done: string): Promise<void> {
  const med = (variant: Variant, count: number, pick: (s: Sample) => number) =>
    median((samples[`${variant} | ${count}`] ?? []).map(pick));
  const rows = COUNTS.flatMap((count) =>
    VARIANTS.map((variant) => {
      const wall = med(variant, count, (s) => s.wall_s);
      const windows = (samples[`${variant} | ${count}`] ?? []).flatMap((s) => s.out_of_service_s);
      return [
        count,
        variant,
        round(wall, 2),
        round(med("capistrano", count, (s) => s.wall_s) / wall, 2),
        round(med(variant, count, (s) => s.bytes_per_server) / 1e6, 3),
        round(
          med(variant, count, (s) => s.cpu_s_per_server),
          2,
        ),
        windows.length ? round(median(windows), 2) : "n/a",
        windows.length ? round(Math.max(...windows), 2) : "n/a",
        variant === "capistrano"
          ? "n/a"
          : round(
              med(variant, count, (s) => s.upkeep_s ?? 0),
              2,
            ),
      ];
    }),
  );
  const command = `nice npx tsx bench/delta.bench.ts --runs ${RUNS} --servers ${values.servers} --files ${FILES} --fs ${values.fs}`;
  const paths = await writeReport({
    name: "delta",
    command,
    machine: MACHINE,
    title: "Deploys whose cost grows with what changed (strata's file store against Capistrano)",
    results: {
      runs: RUNS,
      files: FILES,
      file_system: scratch.describe,
      changed_files: CHANGED,
      changed_bytes: CHANGED_BYTES,
      samples,
    },
    markdown: [
      `Done: ${done}. Files on ${scratch.describe}. An app of ${FILES} files (~53 MiB; bench/lib/app-tree.ts). ${RUNS} runs, the`,
      "variants interleaved in each run at each N; medians. strata deploys all at once after staging",
      "(fetch and prepare before any server leaves the balancer). *full*: every file's content new;",
      `*everyday*: ${CHANGED} files (1%) rewritten, ~${CHANGED_BYTES / 1024} KiB of new content;`,
      "*whole tarball (before)*: a full deploy with the manifest withheld, so agents download and",
      "extract the tarball as before the file store. Capistrano 3.17 pushes the everyday release's",
      "tarball (the same bytes `strata build` uploads) over SSH to N hosts: upload, unpack, switch",
      "`current`, touch restart.txt (bench/capistrano/setup.sh). Wall time: strata, from the deploy",
      "call to every server serving the version; Capistrano, the `cap` run. After a strata deploy",
      "each agent joins the files it extracted to its store and collects what no release names, off",
      "the deploy's path; the bench waits for that (*store upkeep after*), and for the image bake",
      "the deploy enqueued (in the control plane, on the same cores), before the next deploy, so",
      "no deploy pays for the one before. CPU per server: strata, the agent process, its upkeep",
      "included; Capistrano, the sshd sessions (tar included). The out-of-service window is",
      "the time a server is absent from strata's balancer (Capistrano has none here). Each N starts",
      "once the folders of servers a scale-down terminated are deleted and every new server's store",
      "has taken in its first release; odd runs deploy the whole",
      "tarball first, even runs last.",
      "",
      markdownTable(
        [
          "N",
          "variant",
          "wall (s)",
          "Capistrano / this",
          "MB per server",
          "CPU s per server",
          "out of service p50 (s)",
          "max (s)",
          "store upkeep after (s)",
        ],
        rows,
      ),
    ].join("\n"),
  });
  process.stderr.write(`wrote ${paths.join(", ")}\n`);
}

const record = (variant: Variant, count: number, sample: Sample) => {
  (samples[`${variant} | ${count}`] ??= []).push(sample);
  process.stderr.write(
    `${variant} N=${count}: ${round(sample.wall_s, 2)} s, ${sample.bytes_per_server} B/server, ` +
      `${round(sample.cpu_s_per_server, 2)} CPU s/server` +
      // Capistrano's sshd sessions are counted as one sum: no split.
      (sample.cpu_system_s_per_server === undefined
        ? ", "
        : ` (${round(sample.cpu_system_s_per_server, 2)} system), `) +
      `upkeep after ${round(sample.upkeep_s, 2)} s\n`,
  );
};

const onSignal = (signal: NodeJS.Signals) => {
  process.stderr.write(`bench: ${signal}, stopping the control plane and sshd\n`);
  // sshd first: a deploy's balancer sampler fails once the plane is closed and may end the process.
  spawnSync(setup, ["stop", capWork]);
  void (async () => {
    // Each step whatever the one before did (agents still writing can make rm fail), the file system last.
    await plane?.close().catch(() => undefined);
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
    await scratch.close().catch(() => undefined);
    process.exit(130);
  })();
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);
try {
  const hosts = Math.max(...COUNTS);
  const cap = spawnSync(setup, ["start", capWork, String(hosts), CAP_PREFIX], { encoding: "utf8" });
  if (cap.status !== 0) throw new Error(`capistrano setup: ${cap.stderr}`);
  plane = await startBenchPlane({
    tempPrefix: "strata-bench-delta-plane-",
    parent: scratch.dir,
    apiPrefix: "127.94.1",
    serverPrefix: "127.94.2",
    yaml: ["heartbeat_interval: 1s", "deploy: { server_timeout: 900s, drain_timeout: 5s }"],
  });
  const b = plane;
  let tree = 0;
  const freshTree = async () => {
    const dir = join(work, `tree-${tree}`);
    await generateAppTree(dir, { files: FILES, seed: `delta-${tree++}` });
    return dir;
  };
  let current = await freshTree();
  await b.client.post("/v1/fleet/up", { group: "web", count: COUNTS[0]! });
  await strataDeploy(b, current, COUNTS[0]!);
  for (let run = 0; run < RUNS; run++) {
    for (const count of COUNTS) {
      await b.client.post("/v1/fleet/scale", { group: "web", count });
      const live = await serving(b, count, deployed);
      await rootsGone(b, live);
      // A new server from a stale image extracted the release: its files join the store first.
      // One from the current image built nothing (its root holds the release): no upkeep is due.
      const roots = join(b.plane.dataDir, "servers");
      const names: string[] = [];
      for (const server of live.servers) {
        if (server.state !== "terminated" && (await built(roots, server.name)))
          names.push(server.name);
      }
      await storesSettled(b, names, new Map());
      const whole = async () => {
        const tree = await freshTree();
        record("strata whole tarball (before)", count, await strataDeploy(b, tree, count, true));
        return tree;
      };
      // Odd runs deploy the whole tarball first: no variant always follows the scaling.
      const old = run % 2 === 1 ? await whole() : null;
      const previous = current;
      current = await freshTree();
      await rm(previous, { recursive: true, force: true });
      record("strata full", count, await strataDeploy(b, current, count));
      await changeFiles(current, CHANGED, CHANGED_BYTES);
      record("strata everyday", count, await strataDeploy(b, current, count));
      record("capistrano", count, await capistranoDeploy(current, count));
      const last = old ?? (await whole());
      await rm(current, { recursive: true, force: true });
      current = last;
      await report(`run ${run + 1} of ${RUNS}, N = ${count}`);
    }
  }
} finally {
  await plane?.close();
  spawnSync(setup, ["stop", capWork]);
  await rm(work, { recursive: true, force: true });
  await scratch.close();
}
