/**
 * Service-in lag from golden images: launch -> first request served through
 * the load balancer, for the same release, from (a) an image without the app
 * (the agent fetches at boot), (b) a stale image (older app baked in) and
 * (c) the current baked image; plus the app's own start + health check, the
 * cost of cloning an image into a server root, and app-layer bake time
 * against release size. Conditions are interleaved (a, b, c, a, b, c, ...)
 * so that drift on a shared machine hits all three alike.
 *
 * Each launch's milestones come from the agent's boot trace (STRATA_BOOT_TRACE,
 * src/runtime/boot-trace.ts) and the control plane's timestamps.
 *
 * Usage: node --import tsx bench/service-in.bench.ts [--launches 10] [--size-mb 50] [--bake-sizes 1,10,50,100] [--bake-reps 3] [--conditions a,b,c] [--out docs/benchmarks/service-in]
 * Writes docs/benchmarks/service-in.json and docs/benchmarks/service-in.md
 * (`--bake-sizes ""` skips the bakes).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ApiClient } from "../src/cli/client.js";
import { parseServerConfig } from "../src/config/server-config.js";
import { createLocalImageStore } from "../src/image/local/local-image-store.js";
import { systemClock } from "../src/lib/clock.js";
import { startControlPlane, type ControlPlane } from "../src/server/control-plane.js";
import { FleetOps } from "../src/fleet/fleet-ops.js";
import { BOOT_TRACE_FILE } from "../src/runtime/boot-trace.js";
import type { Provider } from "../src/provider/provider.js";
import type { ImagesView } from "../src/wire/image.js";
import type { Release } from "../src/wire/release.js";
import type { StatusView } from "../src/wire/server.js";
import { EXAMPLE_APP, build, deployAndWait, randomLoopbackPrefix } from "../test/e2e/harness.js";

const OUT_DIR = fileURLToPath(new URL("../docs/benchmarks/", import.meta.url));
type Condition = "a" | "b" | "c";
const LABELS: Record<Condition, string> = {
  a: "(a) image without the app: fetch at boot",
  b: "(b) stale image (older app): fetch at boot",
  c: "(c) current baked image",
};

const { values: args } = parseArgs({
  options: {
    launches: { type: "string", default: "10" },
    "size-mb": { type: "string", default: "50" },
    "bake-sizes": { type: "string", default: "1,10,50,100" },
    "bake-reps": { type: "string", default: "3" },
    /** `127.a` of the loopback addresses used: the API on `<net>.1.x`, servers on `<net>.2.x`. @default random */
    net: { type: "string" },
    conditions: { type: "string", default: "a,b,c" },
    /** Path of the results without `.json` / `.md`. */
    out: { type: "string" },
  },
});
const LAUNCHES = Number(args.launches);
const CONDITIONS = args.conditions.split(",") as Condition[];
const OUT = args.out ?? join(OUT_DIR, "service-in");
/** Milestones of one launch, in ms after the launch request (FleetOps.up). */
const MILESTONES = [
  "clone_done",
  "agent_process_start",
  "app_spawned",
  "agent_joined",
  "app_healthy",
  "ready",
  "in_service",
  "served",
] as const;
type Milestone = (typeof MILESTONES)[number];
const SIZE_MB = Number(args["size-mb"]);
const BAKE_SIZES = args["bake-sizes"].split(",").filter(Boolean).map(Number);
const BAKE_REPS = Number(args["bake-reps"]);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Status and body of one GET, without keep-alive (each probe is a fresh connection, like a new client). */
function probe(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve({ status: 0, body: "" }));
  });
}

async function untilServed(
  url: string,
  version: string,
  pollMs: number,
  limitMs = 120_000,
): Promise<number> {
  const deadline = performance.now() + limitMs;
  while (performance.now() < deadline) {
    const res = await probe(url);
    if (res.status === 200 && res.body.includes(`"version":"${version}"`)) return performance.now();
    await sleep(pollMs);
  }
  throw new Error(`no ${version} answer from ${url} within ${limitMs} ms`);
}

async function appVariant(work: string, name: string, sizeMb: number): Promise<string> {
  const dir = join(work, name);
  await cp(EXAMPLE_APP, dir, { recursive: true });
  await writeFile(join(dir, "message.txt"), `release ${name}\n`);
  // Incompressible, so the tarball is as large as the release.
  await writeFile(join(dir, "payload.bin"), randomBytes(Math.round(sizeMb * 1024 * 1024)));
  return dir;
}

const tenths = (ms: number) => Math.round(ms * 10) / 10;

/** The app alone: `node server.js` in the release folder until /healthz answers 200. */
async function appStartAndHealth(releaseDir: string, host: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ["server.js"], {
    cwd: releaseDir,
    env: { ...process.env, HOST: host, PORT: "8080", STRATA_RELEASE_VERSION: "bench" },
    stdio: "ignore",
  });
  try {
    for (;;) {
      if ((await probe(`http://${host}:8080/healthz`)).status === 200)
        return performance.now() - started;
      await sleep(10);
    }
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  }
}

/** The first time of each milestone in the agent's boot trace (epoch ms); empty without one. */
async function bootTrace(root: string | undefined): Promise<Record<string, number | undefined>> {
  if (!root) return {};
  const text = await readFile(join(root, BOOT_TRACE_FILE), "utf8").catch(() => "");
  const events: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [event, at] = line.split(" ");
    if (event && at) events[event] ??= Number(at);
  }
  return events;
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "strata-bench-service-in-"));
  // As root, apps run as an account of their own (as on a VM whose agent runs as root), which must reach its root.
  await chmod(work, 0o711);
  const loadBefore = loadavg()[0]!;
  const recipe = join(work, "recipe");
  await mkdir(join(recipe, "etc"), { recursive: true });
  await writeFile(join(recipe, "etc", "motd"), "middleware layer\n");
  await writeFile(join(recipe, "provision.sh"), "echo provisioned > provisioned.txt\n");
  const api = args.net ? `${args.net}.1` : randomLoopbackPrefix();
  const prefix = args.net ? `${args.net}.2` : randomLoopbackPrefix();
  const groups = ["web", ...BAKE_SIZES.map((mb) => `bake-${String(mb).replace(".", "-")}`)];
  const yaml = [
    `provider: { local: { address_prefix: "${prefix}" } }`,
    `balancer: { host: "${api}.1" }`,
    "heartbeat_interval: 1s",
    "heartbeat_timeout: 5s",
    "deploy: { server_timeout: 120s, drain_timeout: 200ms }",
    `groups: { ${groups.map((g) => `${g}: { recipe: "${recipe}" }`).join(", ")} }`,
    "images: { keep: 20 }",
  ].join("\n");
  let plane: ControlPlane | null = null;
  try {
    plane = await startControlPlane({
      config: parseServerConfig(yaml, "bench", {
        dataDir: join(work, "data"),
        listen: `${api}.1:0`,
      }),
      agentEnv: { STRATA_BOOT_TRACE: "1" },
    });
    const client = new ApiClient(plane.url, plane.adminToken);
    // A deploy needs its group to exist (issue 15); the bench deploys before any server runs.
    for (const group of groups) await plane.store.groups.ensure(group);
    const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

    // Two releases of the same size: v1 is baked into the stale image, v2 is the one every launch must serve.
    const deploy = async (dir: string, version: string, group: string): Promise<Release> => {
      const release = await build(client, dir, version);
      const d = await deployAndWait(client, { version, group });
      if (d.state !== "succeeded") throw new Error(`deploy ${version}: ${d.state} ${d.error}`);
      await plane!.images.idle();
      return release;
    };
    log(`building two ${SIZE_MB} MB releases and baking them`);
    const v1 = await deploy(await appVariant(work, "v1", SIZE_MB), "1.0.0", "web");
    const imagesAfterV1 = await client.get<ImagesView>("/v1/images?group=web");
    const staleImage = imagesAfterV1.channels.find((c) => c.name === "web:current")!.image;
    const v2 = await deploy(await appVariant(work, "v2", SIZE_MB), "2.0.0", "web");
    const view = await client.get<ImagesView>("/v1/images?group=web");
    const currentImage = view.channels.find((c) => c.name === "web:current")!.image;
    const current = view.images.find((i) => i.id === currentImage)!;
    const middlewareImage = current.parent!;
    // The app layer: what the app image holds beyond its middleware parent (the store and the release).
    const layerBytes = current.size! - view.images.find((i) => i.id === middlewareImage)!.size!;
    const images: Record<Condition, string> = {
      a: middlewareImage,
      b: staleImage,
      c: currentImage,
    };
    log(
      `images: middleware ${middlewareImage}, stale ${staleImage} (v1), current ${currentImage} (v2, ${current.size} bytes)`,
    );

    // The app's own start + health check, from the baked release folder.
    const localImages = createLocalImageStore({ dir: join(work, "data", "images") });
    const appDir = join(
      work,
      "data",
      "images",
      currentImage,
      "root",
      "releases",
      v2.id.replace(":", "-"),
    );
    const appHost = `${prefix}.250`;
    // The baseline: measured once per round with the launches, so load drift hits it alike.
    const appSamples: number[] = [];

    // Both ways the local provider clones: files copied, or (apps as their own account: the bench as root) blobs shared.
    const cloneSamples: number[] = [];
    const sharedCloneSamples: number[] = [];
    let copyMethod = "";
    let linked = 0;
    for (let i = 0; i < 10; i++) {
      const dest = join(work, `clone-${i}`);
      const shareBlobs = i % 2 === 1;
      const t0 = performance.now();
      const cloned = await localImages.cloneRoot(currentImage, dest, { shareBlobs });
      (shareBlobs ? sharedCloneSamples : cloneSamples).push(performance.now() - t0);
      copyMethod = cloned.method;
      if (shareBlobs) linked = cloned.linked;
      await rm(dest, { recursive: true, force: true });
    }
    log(
      `clone of the current image into a server root: median ${median(cloneSamples).toFixed(0)} ms (${copyMethod}), ` +
        `${median(sharedCloneSamples).toFixed(1)} ms with its blobs shared (${linked} files linked)`,
    );

    let chosen: string | null = null;
    /** The last launch: when the provider's launch returned (the root cloned), and the root. */
    const launched: { at?: number; root?: string } = {};
    const localProvider = plane.provider;
    const provider: Provider = {
      ...localProvider,
      launch: async (spec) => {
        const instance = await localProvider.launch(spec);
        launched.at = Date.now();
        if (instance.root) launched.root = instance.root;
        return instance;
      },
    };
    const fleetOps = new FleetOps({
      store: plane.store,
      fleet: plane.fleet,
      provider,
      clock: systemClock,
      audit: async () => undefined,
      agent: () => ({ server: plane!.url, joinToken: plane!.joinToken }),
      imageFor: async () => chosen,
    });
    const lb = (await client.get<StatusView>("/v1/status?group=web")).groups.find(
      (g) => g.name === "web",
    )!.balancer!;
    const lbUrl = `http://${lb}/`;
    const launches: Record<
      Condition,
      {
        lag_ms: number;
        launched_to_ready_ms: number | null;
        ready_to_in_service_ms: number | null;
        launch_to_join_ms: number | null;
        fetched: boolean;
        /** ms after the launch request; null where the agent's trace lacks it (main's agent). */
        milestones: Record<Milestone, number | null>;
        /** Every event of the agent's boot trace, ms after the launch request. */
        trace: Record<string, number | null>;
      }[]
    > = { a: [], b: [], c: [] };
    for (let round = 0; round < LAUNCHES; round++) {
      appSamples.push(await appStartAndHealth(appDir, appHost));
      log(`round ${round + 1} app alone: ${Math.round(appSamples.at(-1)!)} ms`);
      for (const condition of CONDITIONS) {
        chosen = images[condition];
        if ((await probe(lbUrl)).status !== 503)
          throw new Error("the balancer still has a member before a launch");
        const opened: string[] = [];
        const open = plane.artifacts.open;
        plane.artifacts.open = (id) => {
          opened.push(id);
          return open(id);
        };
        let joined: number | null = null;
        const join0 = plane.fleet.join;
        plane.fleet.join = (req) => {
          joined ??= performance.now();
          return join0.call(plane!.fleet, req);
        };
        delete launched.at;
        delete launched.root;
        const t0 = performance.now();
        const epoch0 = performance.timeOrigin + t0;
        const [name] = await fleetOps.up("web", 1);
        const t1 = await untilServed(lbUrl, "2.0.0", 5);
        plane.artifacts.open = open;
        plane.fleet.join = join0;
        const s = (await client.get<StatusView>("/v1/status?group=web")).servers.find(
          (x) => x.name === name,
        )!;
        const at = (x: string | null) => (x ? Date.parse(x) : null);
        const [launchedAt, ready, inService] = [
          at(s.launched_at),
          at(s.ready_at),
          at(s.in_service_at),
        ];
        const trace = await bootTrace(launched.root);
        const after = (epoch: number | null | undefined) =>
          epoch == null ? null : Math.round(epoch - epoch0);
        const milestones: Record<Milestone, number | null> = {
          clone_done: after(launched.at),
          agent_process_start: after(trace.process_start),
          app_spawned: after(trace.app_spawned),
          agent_joined: joined === null ? null : Math.round(joined - t0),
          app_healthy: after(trace.app_healthy),
          ready: after(ready),
          in_service: after(inService),
          served: Math.round(t1 - t0),
        };
        launches[condition].push({
          lag_ms: Math.round(t1 - t0),
          launched_to_ready_ms: launchedAt !== null && ready !== null ? ready - launchedAt : null,
          ready_to_in_service_ms: ready !== null && inService !== null ? inService - ready : null,
          fetched: opened.includes(v2.id),
          launch_to_join_ms: joined === null ? null : Math.round(joined - t0),
          milestones,
          trace: Object.fromEntries(Object.entries(trace).map(([k, v]) => [k, after(v)])),
        });
        log(
          `round ${round + 1} ${condition}: ${Math.round(t1 - t0)} ms${opened.includes(v2.id) ? " (fetched)" : ""}`,
        );
        await fleetOps.scale("web", 0);
        for (let i = 0; i < 200 && (await probe(lbUrl)).status !== 503; i++) await sleep(20);
      }
    }

    log("bake time of the app layer against release size");
    const bakes: { size_mb: number; release_bytes: number; bake_ms: number[] }[] = [];
    for (const [i, mb] of BAKE_SIZES.entries()) {
      const row = { size_mb: mb, release_bytes: 0, bake_ms: [] as number[] };
      for (let rep = 0; rep < BAKE_REPS; rep++) {
        const release = await deploy(
          await appVariant(work, `bake-${mb}-${rep}`, mb),
          `${mb}.${rep}.0-bake`,
          groups[i + 1]!,
        );
        const baked = (
          await client.get<ImagesView>(`/v1/images?group=${groups[i + 1]}`)
        ).images.find((x) => x.layer === "app" && x.release === release.id)!;
        row.release_bytes = release.size;
        row.bake_ms.push(baked.bake_ms!);
        await rm(join(work, `bake-${mb}-${rep}`), { recursive: true, force: true });
      }
      log(`${mb} MB: bake ${row.bake_ms.join(", ")} ms`);
      bakes.push(row);
    }

    const medians = Object.fromEntries(
      CONDITIONS.map((c) => [c, median(launches[c].map((l) => l.lag_ms))]),
    ) as Record<Condition, number>;
    const appMedian = median(appSamples);
    const result = {
      benchmark: "service-in",
      command: `node --import tsx bench/service-in.bench.ts --launches ${LAUNCHES} --size-mb ${SIZE_MB} --bake-sizes ${BAKE_SIZES.join(",")} --bake-reps ${BAKE_REPS}${args.net ? ` --net ${args.net}` : ""}`,
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpu: cpus()[0]?.model ?? "unknown",
        memory_gib: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        image_copy: copyMethod,
        // The machine is shared: the 1-minute load average before and after the run.
        load_average: [+loadBefore.toFixed(2), +loadavg()[0]!.toFixed(2)],
      },
      release: { version: v2.version, bytes: v2.size, stale_version: v1.version },
      app_layer: {
        bytes: layerBytes,
        over_release: +(layerBytes / v2.size).toFixed(2),
        note: "the file store's blobs plus the release folder materialised from them (copies)",
      },
      settings: { heartbeat_interval: "1s", lb_poll_ms: 5, launches_per_condition: LAUNCHES },
      app_start_health_ms: { samples: appSamples.map(Math.round), median: Math.round(appMedian) },
      clone_ms: {
        samples: cloneSamples.map(Math.round),
        median: Math.round(median(cloneSamples)),
        method: copyMethod,
        shared_blobs: {
          samples: sharedCloneSamples.map(tenths),
          median: tenths(median(sharedCloneSamples)),
          files_linked: linked,
        },
      },
      launches,
      median_lag_ms: medians,
      ratio_c_over_a: medians.a ? +(medians.c / medians.a).toFixed(3) : null,
      ratio_c_over_app: +(medians.c / appMedian).toFixed(2),
      target: "(c) within 1.2x of the app's own start + health check",
      target_met: medians.c <= 1.2 * appMedian,
      bake: bakes.map((b) => ({ ...b, median_ms: median(b.bake_ms) })),
    };
    await mkdir(dirname(OUT), { recursive: true });
    await writeFile(`${OUT}.json`, JSON.stringify(result, null, 2) + "\n");
    const breakdown = (
      c: Condition,
      key: "launched_to_ready_ms" | "ready_to_in_service_ms" | "launch_to_join_ms",
    ) => median(launches[c].map((l) => l[key]).filter((x): x is number => x !== null)).toFixed(0);
    const md = [
      "# Service-in lag from golden images",
      "",
      `Command: \`${result.command}\``,
      `Machine: ${result.machine.cpus} × ${result.machine.cpu}, ${result.machine.memory_gib} GiB, ${result.machine.platform}, Node ${result.machine.node}; image files copied by ${copyMethod}; load average ${result.machine.load_average.join(" → ")} (shared machine). ${result.date}.`,
      "",
      `Launch → first request served through the local balancer, release ${v2.version} of ${(v2.size / 1024 / 1024).toFixed(1)} MiB, ${LAUNCHES} launches per condition, interleaved.`,
      "",
      "| condition | median lag (ms) | min | max | launch → agent joined (ms) | launched → ready (ms) | ready → in service (ms) | fetched |",
      "|---|---:|---:|---:|---:|---:|---:|---|",
      ...CONDITIONS.map((c) => {
        const lags = launches[c].map((l) => l.lag_ms);
        return `| ${LABELS[c]} | ${medians[c]} | ${Math.min(...lags)} | ${Math.max(...lags)} | ${breakdown(c, "launch_to_join_ms")} | ${breakdown(c, "launched_to_ready_ms")} | ${breakdown(c, "ready_to_in_service_ms")} | ${launches[c].filter((l) => l.fetched).length}/${LAUNCHES} |`;
      }),
      "",
      ...(result.ratio_c_over_a ? [`- Ratio (c)/(a): **${result.ratio_c_over_a}**.`] : []),
      `- The app's own start + health check (\`node server.js\` until /healthz answers, once per round): median ${Math.round(appMedian)} ms; (c) is **${result.ratio_c_over_app}×** that (target ≤ 1.2×: ${result.target_met ? "met" : "not met"}).`,
      `- The app layer (the file store plus the release materialised from it) holds ${(layerBytes / 1024 / 1024).toFixed(1)} MiB for a ${(v2.size / 1024 / 1024).toFixed(1)} MiB release: ${result.app_layer.over_release}× (a layer of the release's files alone was 1×).`,
      `- Cloning the current image (${(current.size! / 1024 / 1024).toFixed(1)} MiB) into a server root: median ${result.clone_ms.median} ms (${copyMethod}); with its blobs shared by hard link (what the local provider does when apps run as their own account, as with the bench run as root), ${result.clone_ms.shared_blobs.median} ms.`,
      "",
      "## Where a launch's time goes",
      "",
      "Median ms after the launch request of each milestone (— where the agent's boot trace lacks it): the provider's launch returned (the image cloned into the root), the agent's process started, the app spawned, the join reached the control plane, the boot's health watch passed, the control plane marked the server ready, put it in the balancer, and the first request through the balancer answered.",
      "",
      `| condition | ${MILESTONES.join(" | ")} |`,
      `|---|${MILESTONES.map(() => "---:").join("|")}|`,
      ...CONDITIONS.map((c) => {
        const cells = MILESTONES.map((m) => {
          const xs = launches[c].map((l) => l.milestones[m]).filter((x): x is number => x !== null);
          return xs.length ? String(Math.round(median(xs))) : "—";
        });
        return `| ${LABELS[c]} | ${cells.join(" | ")} |`;
      }),
      "",
      ...(bakes.length ? ["## App-layer bake time against release size", ""] : []),
      ...(bakes.length
        ? ["| release (MiB) | bake median (ms) | samples (ms) |", "|---:|---:|---|"]
        : []),
      ...result.bake.map(
        (b) =>
          `| ${(b.release_bytes / 1024 / 1024).toFixed(1)} | ${b.median_ms} | ${b.bake_ms.join(", ")} |`,
      ),
      "",
    ].join("\n");
    await writeFile(`${OUT}.md`, md);
    process.stdout.write(md);
  } finally {
    await plane?.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
