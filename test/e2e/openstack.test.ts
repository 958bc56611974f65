import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmod,
  cp,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { hypervisorStandIn, type NovaServer } from "../../src/image/glance/testbed-hypervisor.js";
import { releaseDirName } from "../../src/lib/server-root.js";
import {
  TESTBED,
  testbedClient,
  testbedSkip,
  writeTestbedClouds,
} from "../../src/lib/openstack/testbed.js";
import type { ImagesView, ScaleView } from "../../src/wire/image.js";
import type { Release } from "../../src/wire/release.js";
import {
  build,
  deployAndWait,
  startTestPlane,
  status,
  variantOf,
  waitFor,
  type TestPlane,
} from "./harness.js";

const skip = await testbedSkip();
/** The file the second release changes: 64 KiB, incompressible. */
const PAGE_BYTES = 64 * 1024;
const nova = testbedClient();

/**
 * A real control plane with `provider: openstack` and the Glance image store
 * against the testbed. The fake hypervisor runs no user data: the stand-in
 * runs a release builder's script (strata's own, fetching the release from
 * this control plane) confined to a temporary server root, and a fleet
 * server's script on an overlay of `/` in its own mount and pid namespace,
 * so the agent it starts (this checkout's) joins, deploys and serves on a
 * loopback address. A server booted from the Glance image starts with what
 * its builder's script left in its root (the stand-in keeps it as the
 * snapshot's content), so it carries the image's file store.
 */
describe(
  "strata on the OpenStack testbed: bake through Nova, scale out from the Glance image",
  {
    skip,
    timeout: 1_200_000,
  },
  () => {
    let work = "";
    let clouds = "";
    let root = "";
    let harness: TestPlane;
    let standIn: ReturnType<typeof hypervisorStandIn>;
    let release: Release;
    let app = "";
    /** The server scale-out launched from the Glance image. */
    let scaledOut: NovaServer & { name: string };
    const previousClouds = process.env.OS_CLIENT_CONFIG_FILE;

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "strata-e2e-openstack-"));
      root = await mkdtemp(join(tmpdir(), "strata-e2e-openstack-root-"));
      // As root, an app runs as an unprivileged account that must reach its server root.
      for (const dir of [work, root]) await chmod(dir, 0o711);
      clouds = await writeTestbedClouds();
      process.env.OS_CLIENT_CONFIG_FILE = join(clouds, "clouds.yaml");
      const prefix = `127.91.${10 + Math.floor(Math.random() * 240)}`;
      // The agent the server's user data starts: this checkout's CLI.
      const agent = `${process.execPath} ${fileURLToPath(new URL("../../bin/strata.js", import.meta.url))} agent`;
      harness = await startTestPlane({
        apiPrefix: prefix,
        provider: `provider: { openstack: { cloud: testbed, flavor: ${TESTBED.flavor}, network: ${TESTBED.network}, base_image: ${TESTBED.baseImage}, server_root: "${root}", agent_command: "${agent}" } }`,
        yaml: ["groups: { web: {} }"],
      });
      const admin = testbedClient("admin");
      standIn = hypervisorStandIn(nova, "strata", {
        run: { admin, root },
        agents: {
          admin,
          server: harness.plane.url,
          roots: join(work, "servers"),
          address: (name) => `${prefix}.${10 + Number(name.split("-").at(-1))}`,
        },
      });
    });
    after(async () => {
      await harness?.client.post("/v1/fleet/scale", { group: "web", count: 0 }).catch(() => null);
      await standIn?.stop();
      await harness?.close();
      if (previousClouds === undefined) delete process.env.OS_CLIENT_CONFIG_FILE;
      else process.env.OS_CLIENT_CONFIG_FILE = previousClouds;
      for (const dir of [work, clouds, root]) await rm(dir, { recursive: true, force: true });
    });

    const images = () => harness.client.get<ImagesView>("/v1/images?group=web");
    /** The agent's log in a fleet server's root. */
    const agentLog = (name: string) => join(work, "servers", name, "logs", "agent.log");
    /** Waits until the server named is in service on `version`; its status then. */
    const inService = (name: string, version: string, limitMs: number) =>
      waitFor(
        `${name} in service on ${version}`,
        async () =>
          (await status(harness.client)).servers.find(
            (s) => s.name === name && s.in_service && s.version === version,
          ),
        limitMs,
        500,
      );

    test("a deploy bakes a 1 MB release in a Nova builder that fetches it from the control plane; web:current names the Glance image", async () => {
      // 1 MiB of incompressible bytes: 20 times what Nova's user data could carry.
      app = await variantOf(work, {});
      await writeFile(join(app, "blob.bin"), randomBytes(1 << 20));
      // The file the next release changes.
      await writeFile(join(app, "page.bin"), randomBytes(PAGE_BYTES));
      release = await build(harness.client, app, "1.0.0");
      // The group's first server: the stand-in runs its user data, and the agent it starts joins.
      await harness.client.post("/v1/fleet/up", { group: "web", count: 1 });
      await waitFor(
        "web-1's agent to join",
        async () =>
          (await status(harness.client)).servers.some(
            (s) => s.name === "web-1" && s.state !== "launching",
          ),
        300_000,
        500,
      );
      assert.ok(release.size > 1_000_000);
      const deployment = await deployAndWait(harness.client, { version: "1.0.0" });
      assert.equal(deployment.state, "succeeded", deployment.error ?? "");
      const bake = await waitFor(
        "the deploy's bake to end",
        async () => {
          const b = (await images()).bakes[0];
          return b && (b.state === "succeeded" || b.state === "failed") ? b : null;
        },
        900_000,
        1000,
      );
      assert.equal(bake.state, "succeeded", bake.error ?? "");
      const view = await images();
      const channel = view.channels.find((c) => c.name === "web:current");
      assert.equal(channel?.release, release.id);
      const glance = await nova.request<Record<string, unknown>>(
        "image",
        "GET",
        `/images/${channel!.image}`,
      );
      assert.equal(glance.body.status, "active");
      assert.equal(glance.body["strata:release"], release.id);
      assert.equal(glance.body["strata:layer"], "app");
      // What the builder's script did, as strata's real code: fetched, verified, laid into the
      // root's file store by `strata agent lay-release`, the release folder linked to it.
      assert.match(bake.output ?? "", /in the file store/, bake.output ?? "");
      const dir = join(root, "releases", releaseDirName(release.id));
      assert.deepEqual(
        await readFile(join(dir, "blob.bin")),
        await readFile(join(app, "blob.bin")),
      );
      assert.deepEqual(await readdir(join(root, "store", "manifests")), [
        release.id.slice("sha256:".length),
      ]);
      assert.equal((await stat(join(dir, "blob.bin"))).nlink, 2, "a link to its blob");
      assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(release.id)}`);
      const activations = JSON.parse(
        await readFile(join(root, "activations.json"), "utf8"),
      ) as Record<string, { version: string }>;
      assert.equal(activations[release.id]?.version, "1.0.0");
      const audit = await harness.client.get<{ entries: { action: string; actor: string }[] }>(
        "/v1/audit?limit=200",
      );
      assert.ok(audit.entries.some((e) => e.action === "image.bake.succeeded"));
    });

    test("the builder's credential reads nothing once its bake ended, and its script carries no admin token", async () => {
      assert.equal(standIn.ran.length, 1, "one release builder ran");
      const script = standIn.ran[0]!;
      assert.ok(!script.includes(harness.plane.adminToken));
      assert.ok(!script.includes("STRATA_PAYLOAD"), "the release is fetched, not carried");
      const token = /Bearer %s"\\n' '([^']+)'/.exec(script)?.[1];
      assert.ok(token?.startsWith("strata-bake."), "the script holds a bake grant");
      const answer = await fetch(`${harness.plane.url}/v1/releases/${release.id}/artifact`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(answer.status, 401);
    });

    test("scale-out launches a second Nova server from the channel's Glance image, tagged with its group, whose agent joins and serves the image's release", async () => {
      const channel = (await images()).channels.find((c) => c.name === "web:current")!;
      const scaled = await harness.client.post<ScaleView>("/v1/fleet/scale", {
        group: "web",
        count: 2,
      });
      assert.equal(scaled.image, channel.image);
      assert.equal(scaled.launched.length, 1);
      const servers = await nova.list<NovaServer & { name: string; tags: string[] }>(
        "compute",
        "/servers/detail",
        "servers",
        { tags: "strata" },
      );
      const server = servers.find((s) => s.name === scaled.launched[0]);
      assert.ok(server, `Nova has ${scaled.launched[0]}`);
      scaledOut = server;
      assert.equal(typeof server.image === "object" ? server.image.id : null, channel.image);
      assert.equal(server.metadata["strata:group"], "web");
      assert.equal(server.metadata["strata:image"], channel.image);
      // Its user data, run by the stand-in, starts an agent that joins, installs 1.0.0 and serves.
      const serving = await inService(server.name, "1.0.0", 300_000);
      assert.equal(serving.release, release.id);
      const log = await readFile(agentLog(server.name), "utf8");
      assert.ok(
        !log.includes("fetched"),
        `the image's release, nothing fetched: ${log.slice(-2000)}`,
      );
    });

    test("the server from the Glance image deploys the next release fetching only the changed file (the gap: its image had no file store, so that deploy was a full one)", async (t) => {
      const next = await mkdtemp(join(work, "app-"));
      await cp(app, next, { recursive: true });
      await writeFile(join(next, "page.bin"), randomBytes(PAGE_BYTES));
      const v2 = await build(harness.client, next, "2.0.0");
      const deployment = await deployAndWait(harness.client, { version: "2.0.0" });
      assert.equal(deployment.state, "succeeded", deployment.error ?? "");
      const log = await readFile(agentLog(scaledOut.name), "utf8");
      const line = log.split("\n").find((l) => l.includes(`${v2.id}: `) && l.includes("fetched"));
      assert.ok(line, `${scaledOut.name} logged its fetch of 2.0.0: ${log.slice(-2000)}`);
      const counted = /(\d+) of (\d+) distinct files fetched, (\d+) bytes/.exec(line);
      assert.ok(counted, `fetched through a pack, not the whole tarball: ${line}`);
      t.diagnostic(line);
      assert.equal(Number(counted[1]), 1, "only the changed file was asked for");
      // The changed content, the gzip'd manifest and framing; not the 1 MiB blob.bin.
      const bytes = Number(counted[3]);
      assert.ok(
        bytes >= PAGE_BYTES && bytes < PAGE_BYTES + 32 * 1024,
        `${bytes} bytes fetched for ${PAGE_BYTES} bytes of changed content`,
      );
      await inService(scaledOut.name, "2.0.0", 120_000);
      // The deploy's bake runs a second builder: waited for, so nothing is left baking.
      const bake = await waitFor(
        "the 2.0.0 bake to end",
        async () => {
          const b = (await images()).bakes.find((x) => x.release === v2.id);
          return b && (b.state === "succeeded" || b.state === "failed") ? b : null;
        },
        900_000,
        1000,
      );
      assert.equal(bake.state, "succeeded", bake.error ?? "");
    });

    test("scale-in deletes the server launched from the Glance image", async () => {
      const server = scaledOut;
      const down = await harness.client.post<ScaleView>("/v1/fleet/scale", {
        group: "web",
        count: 0,
      });
      assert.ok(down.terminated.includes(server.name), `${server.name} terminated`);
      await waitFor(
        `${server.name} deleted from Nova`,
        async () =>
          (await nova.request("compute", "GET", `/servers/${server.id}`, { accept: [404] }))
            .status === 404,
        300_000,
        1000,
      );
    });
  },
);
