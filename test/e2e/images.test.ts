import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ApiClient } from "../../src/cli/client.js";
import { releaseDir } from "../../src/lib/server-root.js";
import { parseServerConfig } from "../../src/config/server-config.js";
import { startControlPlane, type ControlPlane } from "../../src/server/control-plane.js";
import type { BakeView, GcView, ImagesView, ScaleView } from "../../src/wire/image.js";
import type { Release } from "../../src/wire/release.js";
import type { StatusView } from "../../src/wire/server.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  get,
  randomLoopbackPrefix,
  status,
  variantOf,
  waitFor,
  waitForServing,
  launchJoined,
} from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

describe("golden images end to end (control plane + agent processes)", { timeout: 600_000 }, () => {
  let dir = "";
  let recipe = "";
  let plane: ControlPlane;
  let client: ApiClient;
  let v1: Release;
  let v2: Release;
  /** Artifact downloads served by the control plane (agents' and bakes'), in order. */
  const opened: { id: string; at: number }[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-e2e-images-"));
    // As root, apps run as an account of their own, which must reach its root (image-boot.test.ts runs them as root).
    await chmod(dir, 0o711);
    recipe = join(dir, "recipes", "web");
    await mkdir(join(recipe, "etc"), { recursive: true });
    await writeFile(join(recipe, "etc", "motd"), "baked by strata\n");
    // Waits while <dir>/hold exists, so a test can keep a bake running; fails while <dir>/fail exists.
    await writeFile(
      join(recipe, "provision.sh"),
      [
        `while [ -e "${dir}/hold" ]; do sleep 0.1; done`,
        `if [ -e "${dir}/fail" ]; then echo "installing nginx"; echo "E: Unable to locate package nginx" >&2; exit 100; fi`,
        "echo provisioned > provisioned.txt",
        "",
      ].join("\n"),
    );
    const api = randomLoopbackPrefix();
    const yaml = [
      `provider: { local: { address_prefix: "${randomLoopbackPrefix()}" } }`,
      `balancer: { host: "${api}.1" }`,
      "heartbeat_interval: 300ms",
      "heartbeat_timeout: 3s",
      "deploy: { server_timeout: 60s, drain_timeout: 1s }",
      `groups: { web: { recipe: "${recipe}", provision_timeout: 2m } }`,
      "images: { keep: 5 }",
    ].join("\n");
    plane = await startControlPlane({
      config: parseServerConfig(yaml, "test", { dataDir: join(dir, "data"), listen: `${api}.1:0` }),
    });
    client = new ApiClient(plane.url, plane.adminToken);
    const open = plane.artifacts.open.bind(plane.artifacts);
    plane.artifacts.open = (id) => {
      opened.push({ id, at: Date.now() });
      return open(id);
    };
    // Agents build releases from files (src/cas/): a pack request reads the release's blobs.
    const openPart = plane.artifacts.openPart.bind(plane.artifacts);
    plane.artifacts.openPart = (id, part, range) => {
      if (part === "blobs") opened.push({ id, at: Date.now() });
      return openPart(id, part, range);
    };
    await launchJoined(client, "web", 1);
  });
  after(async () => {
    await plane?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const images = () => client.get<ImagesView>("/v1/images?group=web");
  const channel = async () =>
    (await images()).channels.find((c) => c.name === "web:current") ?? null;
  const server = async (name: string) =>
    (await status(client)).servers.find((s) => s.name === name);

  test("a successful deploy enqueues a bake; web:current moves to the baked app image", async () => {
    v1 = await build(client, EXAMPLE_APP, "1.0.0");
    const d = await deployAndWait(client, { version: "1.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    await waitForServing(client, "web", 1, "1.0.0");
    const current = await waitFor("web:current on 1.0.0", async () => {
      const c = await channel();
      return c?.up_to_date && c.release === v1.id ? c : null;
    });
    const view = await images();
    const app = view.images.find((i) => i.id === current.image)!;
    assert.equal(app.layer, "app");
    assert.equal(app.version, "1.0.0");
    assert.ok(app.size! > 0 && app.bake_ms !== null && app.baked_at !== null);
    const middleware = view.images.find((i) => i.id === app.parent);
    assert.equal(middleware?.layer, "middleware");
    assert.equal(middleware?.parent, null);
    assert.equal(view.bakes[0]?.state, "succeeded");
    assert.equal(view.bakes[0]?.reason, "deploy");
    const audit = await client.get<{ entries: { action: string }[] }>("/v1/audit?limit=100");
    for (const action of ["image.bake.queued", "image.bake.succeeded", "image.channel.move"]) {
      assert.ok(
        audit.entries.some((e) => e.action === action),
        `audit has ${action}`,
      );
    }
  });

  test("a server launched from the current image serves the desired release without downloading it", async () => {
    const image = (await channel())!.image;
    const since = opened.length;
    const scaled = await client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 2 });
    assert.deepEqual(scaled.launched, ["web-2"]);
    assert.equal(scaled.image, image);
    await waitForServing(client, "web", 2, "1.0.0");
    const s = (await server("web-2"))!;
    assert.equal(s.image, image);
    assert.equal(s.release, v1.id);
    for (const at of [s.launched_at, s.ready_at, s.in_service_at])
      assert.ok(at && !Number.isNaN(Date.parse(at)));
    assert.ok(Date.parse(s.launched_at!) <= Date.parse(s.in_service_at!));
    assert.deepEqual(opened.slice(since), [], "the artifact was not fetched");
    const res = await get(`http://${s.address}:8080/`);
    assert.equal(JSON.parse(res.body).version, "1.0.0");
    const root = join(dir, "data", "servers", "web-2");
    assert.equal(
      await readFile(join(root, "provisioned.txt"), "utf8"),
      "provisioned\n",
      "the recipe's work is there",
    );
    // Its agent's join went out from its early boot, while the app started.
    const agentLog = await readFile(join(root, "logs", "agent.log"), "utf8");
    assert.match(agentLog, /joined \S+ as web-2 \(sent at its boot\)/);
    if (process.getuid?.() === 0) {
      // As root, apps run as an account of their own: the root shares the image's read-only blobs.
      const file = (r: string) => join(releaseDir(r, v1.id), "server.js");
      const imageRoot = join(dir, "data", "images", image, "root");
      const [mine, theirs] = await Promise.all([stat(file(root)), stat(file(imageRoot))]);
      assert.equal(mine.ino, theirs.ino, "one inode");
      assert.equal(mine.mode & 0o222, 0, "read-only");
      assert.notEqual(
        (await stat(join(root, "provisioned.txt"))).ino,
        (await stat(join(imageRoot, "provisioned.txt"))).ino,
        "the recipe's files are copies",
      );
    }
  });

  test("a server launched from a stale image fetches the desired release and only then enters service", async (t) => {
    const before = await channel();
    // A recipe change makes the next bake rebuild the middleware, held here until the server is up.
    // Issue 15, defect 14: a failure left `hold` behind, and every later bake waited out its timeout.
    await writeFile(join(dir, "hold"), "");
    t.after(() => rm(join(dir, "hold"), { force: true }));
    await writeFile(join(recipe, "etc", "motd"), "baked by strata, recipe 2\n");
    v2 = await build(client, await variantOf(dir, { "message.txt": "version two\n" }), "2.0.0");
    const d = await deployAndWait(client, { version: "2.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    await waitFor("the v2 bake to run", async () => (await images()).bakes[0]?.state === "running");
    const waiting = await channel();
    assert.equal(waiting?.image, before?.image, "the channel waits for the bake");
    assert.equal(waiting?.up_to_date, false);

    const since = opened.length;
    const scaled = await client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 3 });
    assert.deepEqual(scaled.launched, ["web-3"]);
    assert.equal(scaled.image, before!.image, "launched from the previous image");
    const seen: { state: string; version: string | null; in_service: boolean }[] = [];
    const final = await waitFor("web-3 in service", async () => {
      const s = await server("web-3");
      if (s) seen.push({ state: s.state, version: s.version, in_service: s.in_service });
      return s?.in_service ? s : null;
    });
    assert.equal(final.version, "2.0.0");
    const activations = JSON.parse(
      await readFile(join(dir, "data", "servers", "web-3", "activations.json"), "utf8"),
    );
    assert.ok(
      activations[v1.id] && activations[v2.id],
      "it booted with the baked 1.0.0, then switched to 2.0.0",
    );
    assert.ok(
      !seen.some((x) => x.in_service && x.version !== "2.0.0"),
      "never in service on the old release",
    );
    const fetched = opened.slice(since).find((o) => o.id === v2.id);
    assert.ok(fetched, "the agent fetched the desired release");
    assert.ok(fetched.at <= Date.parse(final.in_service_at!), "fetched before entering service");

    await rm(join(dir, "hold"));
    const moved = await waitFor("web:current on 2.0.0", async () => {
      const c = await channel();
      return c?.release === v2.id && c.up_to_date ? c : null;
    });
    const view = await images();
    const app = view.images.find((i) => i.id === moved.image)!;
    const middleware = view.images.find((i) => i.id === app.parent)!;
    assert.notEqual(
      middleware.recipe_hash,
      view.images.find((i) => i.id === before!.image)?.recipe_hash,
    );
    assert.equal(view.images.filter((i) => i.layer === "middleware").length, 2);
  });

  test("a failing recipe fails the bake with its output (CLI: exit 1) and leaves the channel unchanged", async (t) => {
    const before = await channel();
    await writeFile(join(dir, "fail"), "");
    t.after(() => rm(join(dir, "fail"), { force: true }));
    await writeFile(join(recipe, "etc", "motd"), "baked by strata, recipe 3\n");
    const env = { ...process.env, STRATA_SERVER: plane.url, STRATA_TOKEN: plane.adminToken };
    const result = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", CLI, "bake", "--group", "web", "--wait", "--json"],
      {
        env,
      },
    ).then(
      () => assert.fail("strata bake should exit 1"),
      (err: { code: number; stdout: string }) => err,
    );
    assert.equal(result.code, 1);
    const bake = JSON.parse(result.stdout) as BakeView;
    assert.equal(bake.state, "failed");
    assert.match(bake.error ?? "", /provision\.sh: exited with 100/);
    assert.match(bake.output ?? "", /Unable to locate package nginx/);
    assert.deepEqual(await channel(), before);

    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", CLI, "images", "--json"],
      { env },
    );
    const listed = JSON.parse(stdout) as ImagesView;
    assert.equal(listed.bakes[0]?.state, "failed");
    assert.ok(listed.images.some((i) => i.state === "killed" && i.layer === "middleware"));
    await rm(join(dir, "fail"));
  });

  test("gc never deletes the channel target or an image a live server was launched from", async () => {
    const s: StatusView = await status(client);
    const launchedFrom = s.servers.map((x) => x.image).filter((x): x is string => x !== null);
    assert.ok(launchedFrom.length >= 2);
    const plan = await client.post<GcView>("/v1/images/gc", { keep: 0, dry_run: true });
    const deleted = new Set(plan.deleted.map((d) => d.id));
    for (const id of [...launchedFrom, (await channel())!.image])
      assert.ok(!deleted.has(id), `${id} is kept`);
    assert.ok(
      plan.deleted.some((d) => /killed/.test(d.reason)),
      "the killed image goes",
    );
    const done = await client.post<GcView>("/v1/images/gc", { keep: 0 });
    assert.deepEqual(done.deleted.map((d) => d.id).sort(), [...deleted].sort());
    const left = new Set((await images()).images.map((i) => i.id));
    for (const id of deleted) assert.ok(!left.has(id));
  });
});
