// Against scripts/openstack-testbed (Keystone, Glance, Nova with the fake hypervisor, Octavia with
// no-op backends, PostgreSQL behind them): a 10-server launch (baseline: one server), a drained
// scale-in from 10 to 5 through Octavia (baseline: the same terminations without the balancer),
// and a bake through the Glance image store (builder boot, poweroff, createImage, snapshot active,
// properties, builder deleted). Writes docs/benchmarks/openstack.{json,md}.
// Usage: STRATA_OPENSTACK_TESTS=1 npm run bench -- openstack (the testbed up: scripts/ci/openstack.sh start)
import { randomBytes, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packDirectory } from "../src/artifact/pack.js";
import { createGlanceImageStore } from "../src/image/glance/glance-image-store.js";
import { createReleaseGrants } from "../src/image/release-grants.js";
import { systemClock } from "../src/lib/clock.js";
import { hypervisorStandIn } from "../src/image/glance/testbed-hypervisor.js";
import { createOctaviaBalancer } from "../src/balancer/octavia/octavia-balancer.js";
import { testbedClient, testbedSkip, TESTBED } from "../src/lib/openstack/testbed.js";
import { createOpenStackProvider } from "../src/provider/openstack/openstack-provider.js";
import type { LaunchSpec } from "../src/provider/provider.js";
import { machineInfo, markdownTable, round, secondsSince, writeReport } from "./lib/report.js";

const skip = testbedSkip();
if (skip) {
  console.error(`[bench] openstack: ${skip}`);
  process.exit(1);
}
const machine = machineInfo();
const client = testbedClient();
// A boot that outlives this counts as lost.
const BOOT_TIMEOUT_MS = 180_000;
const provider = createOpenStackProvider({
  client,
  ...TESTBED,
  pollMs: 250,
  bootTimeoutMs: BOOT_TIMEOUT_MS,
});
const run = randomBytes(3).toString("hex");
const spec = (name: string): LaunchSpec => ({
  name,
  group: "bench",
  tags: { "strata:bench": run },
  agent: { server: "http://127.0.0.1:9", joinToken: "bench", group: "bench" },
});
const DRAIN_MS = 2000;

async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: round(secondsSince(start), 2), value };
}

let lbId = "";
try {
  const one = await timed(() => provider.launch(spec(`bench-${run}-0`)));
  await provider.terminate(one.value.id);
  const ten = await timed(() =>
    Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => provider.launch(spec(`bench-${run}-${i + 1}`))),
    ),
  );
  const servers = ten.value.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = ten.value.flatMap((r) =>
    r.status === "rejected" ? [String((r.reason as Error).message)] : [],
  );
  for (const message of failed) console.error(`[bench] launch failed: ${message}`);
  if (servers.length < 6) throw new Error(`only ${servers.length} of 10 servers came up`);

  const lb = await client.request<{ loadbalancer: { id: string } }>(
    "load-balancer",
    "POST",
    "/lbaas/loadbalancers",
    {
      body: { loadbalancer: { name: `strata-bench-${run}`, vip_subnet_id: randomUUID() } },
    },
  );
  lbId = lb.body.loadbalancer.id;
  const balancer = createOctaviaBalancer({ client, loadbalancer: lbId, pollMs: 250 });
  await balancer.ensurePool("bench");
  // Testbed servers have no addresses (no Neutron): members get stand-in loopback addresses.
  const addMembers = await timed(() =>
    Promise.all(
      servers.map((s, i) =>
        balancer.addMember("bench", { id: s.name, address: `127.60.9.${i + 2}`, port: 8080 }),
      ),
    ),
  );
  const victims = servers.slice(servers.length - 5);
  const drained = await timed(() =>
    Promise.all(
      victims.map(async (s) => {
        await balancer.removeMember("bench", s.name, { drainMs: DRAIN_MS });
        await provider.terminate(s.id);
      }),
    ),
  );
  const plain = await timed(() =>
    Promise.all(servers.slice(0, servers.length - 5).map((s) => provider.terminate(s.id))),
  );

  // A bake through the Glance store: a recipe layer on the base image.
  const recipe = await mkdtemp(join(tmpdir(), "strata-bench-recipe-"));
  await writeFile(join(recipe, "provision.sh"), "echo provisioned\n");
  const images = createGlanceImageStore({
    client,
    builder: { flavor: TESTBED.flavor, network: TESTBED.network, baseImage: TESTBED.baseImage },
    namespace: `bench-${run}`,
    pollMs: 250,
  });
  // Testbed limits, stood in for as the hypervisor would: no user data runs (the builder is
  // stopped as its script's poweroff would) and the snapshot is uploaded through Glance's API.
  const standIn = hypervisorStandIn(client, `bench-${run}`);
  const bake = await timed(async () => {
    const queued = await images.create({
      name: `bench-${run}-mw`,
      properties: { "strata:group": "bench" },
    });
    return (
      await images.build(queued.id, {
        parent: null,
        layer: { kind: "recipe", dir: recipe, timeoutMs: 60_000 },
      })
    ).image;
  }).finally(async () => {
    await standIn.stop();
    await rm(recipe, { recursive: true, force: true });
  });
  await images.delete(bake.value.id);

  // A release layer of 1 MiB of random bytes (Nova's user data holds 64 KiB), fetched by the
  // builder's own script with a grant from an HTTP server checking it as the control plane does;
  // the stand-in runs that script confined to a temporary server root.
  const releaseWork = await mkdtemp(join(tmpdir(), "strata-bench-release-"));
  await mkdir(join(releaseWork, "app"));
  await writeFile(join(releaseWork, "app", "blob.bin"), randomBytes(1 << 20));
  const packed = await packDirectory(join(releaseWork, "app"), join(releaseWork, "release.tar.gz"));
  const baking = new Set<string>();
  let base = "";
  const grants = createReleaseGrants({
    secret: randomBytes(16).toString("hex"),
    baseUrl: () => base,
    clock: systemClock,
    baking: async (image) => baking.has(image),
  });
  const http = createServer((req, res) => {
    const token = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    void grants.check(token, req.method ?? "", req.url ?? "").then((who) => {
      if (!who) return res.writeHead(401).end();
      res.writeHead(200, { "content-type": "application/gzip" });
      createReadStream(packed.file).pipe(res);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.91.0.3", resolve));
  base = `http://127.91.0.3:${(http.address() as AddressInfo).port}`;
  const root = join(releaseWork, "root");
  const release = { id: packed.id, version: "1.0.0" };
  // Laid by this checkout's strata (`strata agent lay-release`: the image carries the file store),
  // then, as the baseline, by the script's plain unpack (an image without strata).
  const bakeRelease = async (label: string, agentCommand: string) => {
    const fetching = createGlanceImageStore({
      client,
      builder: {
        flavor: TESTBED.flavor,
        network: TESTBED.network,
        baseImage: TESTBED.baseImage,
        root,
        agentCommand,
      },
      namespace: `bench-${run}-${label}`,
      pollMs: 250,
    });
    const runner = hypervisorStandIn(client, `bench-${run}-${label}`, {
      run: { admin: testbedClient("admin"), root },
    });
    const baked = await timed(async () => {
      const queued = await fetching.create({
        name: `bench-${run}-${label}`,
        properties: { "strata:group": "bench" },
      });
      baking.add(queued.id);
      return await fetching.build(queued.id, {
        parent: null,
        layer: {
          kind: "release",
          release,
          download: () => Promise.reject(new Error("the builder fetches it")),
          fetchGrant: (image, ttlMs) => grants.issue(release.id, image, ttlMs),
        },
      });
    }).finally(() => runner.stop());
    await fetching.delete(baked.value.image.id);
    console.error(`[bench] ${label}: ${baked.value.output}`);
    return baked;
  };
  const strataCli = `${process.execPath} ${fileURLToPath(new URL("../bin/strata.js", import.meta.url))} agent`;
  const [fetched, unpacked] = await (async () => {
    const laid = await bakeRelease("laid", strataCli);
    return [laid, await bakeRelease("unpacked", join(releaseWork, "no-strata"))] as const;
  })().finally(async () => {
    await new Promise((resolve) => http.close(resolve));
    await rm(releaseWork, { recursive: true, force: true });
  });

  const results = {
    launch_1_s: one.seconds,
    launch_10_s: ten.seconds,
    launch_10_vs_1: round(ten.seconds / one.seconds, 2),
    launch_10_failed: failed.length,
    add_10_members_s: addMembers.seconds,
    scale_in_10_to_5_drained_s: drained.seconds,
    drain_ms: DRAIN_MS,
    terminate_rest_without_balancer_s: plain.seconds,
    drained_vs_plain: round(drained.seconds / plain.seconds, 2),
    bake_s: bake.seconds,
    bake_release_1mib_fetched_s: fetched.seconds,
    bake_release_1mib_unpacked_only_s: unpacked.seconds,
    laid_vs_unpacked: round(fetched.seconds / unpacked.seconds, 2),
  };
  console.log(JSON.stringify(results, null, 2));
  const files = await writeReport({
    name: "openstack",
    title: "OpenStack provider against the testbed",
    command: "npm run bench -- openstack",
    machine,
    results,
    markdown: `
Real Keystone, Glance, Nova (fake hypervisor: no VM boots, so these are control-plane times) and
Octavia (no-op amphora) from scripts/openstack-testbed, all on this one machine, their databases in
PostgreSQL.

${markdownTable(
  ["operation", "seconds", "baseline in the same run", "ratio"],
  [
    [
      `launch 10 servers to ACTIVE (concurrent; ${failed.length} lost, given up after ${BOOT_TIMEOUT_MS / 1000} s)`,
      results.launch_10_s,
      `1 server: ${results.launch_1_s} s`,
      results.launch_10_vs_1,
    ],
    [
      `scale-in 10 -> 5: drain (weight 0, ${DRAIN_MS} ms) + remove member + delete server`,
      results.scale_in_10_to_5_drained_s,
      `delete the other ${servers.length - 5} without the balancer: ${results.terminate_rest_without_balancer_s} s`,
      results.drained_vs_plain,
    ],
    ["add 10 pool members (serialised per load balancer)", results.add_10_members_s, "", ""],
    [
      "bake (Glance store): builder to ACTIVE, poweroff, createImage, snapshot active, properties, builder deleted",
      results.bake_s,
      "",
      "",
    ],
    [
      "bake a 1 MiB release layer: the builder fetches it with a grant, checks its sha256, lays it into the file store with `strata agent lay-release`",
      results.bake_release_1mib_fetched_s,
      `the same bake on an image without strata (plain tar unpack, no file store): ${results.bake_release_1mib_unpacked_only_s} s`,
      results.laid_vs_unpacked,
    ],
  ],
)}

In the bakes, the builder's poweroff and the snapshot's upload come from a stand-in for the fake
hypervisor (src/image/glance/testbed-hypervisor.ts: it stops the builder and uploads 64 KiB to the
queued snapshot through Glance), polled every 250 ms; on a real cloud the provisioning and the
disk upload add their own time. For the release layer the stand-in also runs the builder's user
data (strata's script: curl with the grant, sha256sum, then this checkout's \`strata agent
lay-release\`, or tar where the builder's agent command is missing) confined to a temporary server root,
as cloud-init would; the recipe layer's script is not run (it writes into \`/\`). Octavia changes are serialised per load balancer, so member changes add up;
the scale-in's drain runs once per member, in parallel with the others' waits.
`,
  });
  console.error(`[bench] wrote ${files.join(", ")}`);
} finally {
  for (const instance of await provider.list({ "strata:bench": run }))
    await provider.terminate(instance.id);
  if (lbId)
    await client.request("load-balancer", "DELETE", `/lbaas/loadbalancers/${lbId}`, {
      query: { cascade: true },
      accept: [404],
    });
}
