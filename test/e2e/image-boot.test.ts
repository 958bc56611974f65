import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLocalImageStore } from "../../src/image/local/local-image-store.js";
import { bundleAgent } from "../../src/provider/local/agent-bundle.js";
import { CURRENT_APP_FILE } from "../../src/runtime/current-app.js";
import type { ImagesView, ScaleView } from "../../src/wire/image.js";
import type { Release } from "../../src/wire/release.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  get,
  startTestPlane,
  status,
  waitFor,
  waitForServing,
  type TestPlane,
} from "./harness.js";

/** Files of the app besides the example's own: 100 of 64 KiB, incompressible. */
const FILES = 100;
const FILE_BYTES = 64 * 1024;

describe("servers booted from a golden image (issue 13)", { timeout: 600_000 }, () => {
  let h: TestPlane;
  let work = "";
  const assets: Buffer[] = [];
  let v1: Release;

  /** The example app plus the assets, `changed` of them replaced by new content. */
  const appWith = async (name: string, changed: Record<number, Buffer>) => {
    const dir = join(work, name);
    await cp(EXAMPLE_APP, dir, { recursive: true });
    await mkdir(join(dir, "assets"));
    for (const [i, data] of assets.entries())
      await writeFile(join(dir, "assets", `${i}.bin`), changed[i] ?? data);
    return dir;
  };
  const images = () => h.client.get<ImagesView>("/v1/images?group=web");
  const currentImage = async () => {
    const c = (await images()).channels.find((x) => x.name === "web:current");
    return c?.up_to_date ? c : null;
  };

  before(async () => {
    // Apps run as the agent's own account here (release files are copies of the store's blobs);
    // the other suite keeps the default (as root: an app account, files linked to the store).
    h = await startTestPlane({
      apiPrefix: "127.95.10",
      serverPrefix: "127.95.11",
      agentEnv: { STRATA_APP_USER: "root" },
    });
    work = await mkdtemp(join(h.dir, "apps-"));
    for (let i = 0; i < FILES; i++) assets.push(randomBytes(FILE_BYTES));
    await h.client.post("/v1/fleet/up", { group: "web", count: 1 });
    await waitFor("web-1 to join", async () =>
      (await status(h.client)).servers.some((s) => s.name === "web-1" && s.state !== "launching"),
    );
    v1 = await build(h.client, await appWith("v1", {}), "1.0.0");
    const d = await deployAndWait(h.client, { version: "1.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
  });
  after(() => h?.close());

  test("a bake lays the release into the image's file store, the release folder built from it", async () => {
    const channel = await waitFor("web:current on 1.0.0", async () => {
      const c = await currentImage();
      return c?.release === v1.id ? c : null;
    });
    const root = join(h.dir, "data", "images", channel.image, "root");
    const hex = v1.id.replace("sha256:", "");
    assert.deepEqual(await readdir(join(root, "store", "manifests")), [hex]);
    let blobs = 0;
    for (const fan of await readdir(join(root, "store", "blobs")))
      blobs += (await readdir(join(root, "store", "blobs", fan))).length;
    assert.ok(blobs >= FILES, `${blobs} blobs for ${FILES} distinct assets and the app's files`);
    const release = await readdir(join(root, "releases", `sha256-${hex}`, "assets"));
    assert.equal(release.length, FILES);
    const file = join(root, "releases", `sha256-${hex}`, "assets", "0.bin");
    assert.equal((await stat(file)).nlink, 2, "a link to its blob: the layer holds it once");
    // Parsed at the bake, so that a server's early boot starts the app without a parser.
    const saved = JSON.parse(await readFile(join(root, CURRENT_APP_FILE), "utf8"));
    assert.equal(saved.release_id, v1.id);
    assert.deepEqual(saved.definition.start, ["/bin/sh", "-c", "node server.js"]);
  });

  test("a server booted from the image fetches only the changed files on its next deploy (the gap: its store was empty, so that deploy was a full one)", async () => {
    const image = (await currentImage())!.image;
    const scaled = await h.client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 2 });
    assert.deepEqual(scaled.launched, ["web-2"]);
    assert.equal(scaled.image, image);
    await waitForServing(h.client, "web", 2, "1.0.0");
    const appLog = await readFile(join(h.dir, "data", "servers", "web-2", "app.log"), "utf8");
    assert.equal(
      appLog.match(/ started sha256:/g)?.length,
      1,
      `started once (the gap: an app with no secrets was restarted after the join): ${appLog}`,
    );
    // Started by the server's boot as soon as its root was cloned; the agent took it over.
    assert.match(appLog, /started sha256:\S+ \(1\.0\.0\) pid (\d+) at the server's boot/);
    assert.match(appLog, /adopted sha256:\S+ \(1\.0\.0\) pid \d+, started at the server's boot/);

    // 1% of the assets change: one file of 64 KiB.
    const changed = { 7: randomBytes(FILE_BYTES) };
    const v2 = await build(h.client, await appWith("v2", changed), "2.0.0");
    const d = await deployAndWait(h.client, { version: "2.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    // Staged before its wave: the fetch is the staged report's, also in the agent's log.
    const log = await readFile(
      join(h.dir, "data", "servers", "web-2", "logs", "agent.log"),
      "utf8",
    );
    const line = log.split("\n").find((l) => l.includes(`${v2.id}: `) && l.includes("fetched"));
    assert.ok(line, `web-2 logged its fetch of 2.0.0: ${log.slice(-2000)}`);
    const counted = /(\d+) of (\d+) distinct files fetched, (\d+) bytes/.exec(line);
    assert.ok(counted, `fetched through a pack, not the whole tarball: ${line}`);
    const [asked, bytes] = [Number(counted[1]), Number(counted[3])];
    assert.equal(asked, 1, "only the changed file was asked for");
    // The image's links became the store's own inodes before the build (apps run as the agent).
    assert.match(log, /the store's blobs got their own inodes: \d+ copied, 0 written through/);
    const booted = join(h.dir, "data", "servers", "web-2", "releases", v1.id.replace(":", "-"));
    assert.equal((await stat(join(booted, "assets", "0.bin"))).nlink, 1);
    // The changed content, the gzip'd manifest (~10 KiB for ~110 entries) and framing.
    assert.ok(
      bytes >= FILE_BYTES && bytes < FILE_BYTES + 32 * 1024,
      `${bytes} bytes fetched for ${FILE_BYTES} bytes of changed content`,
    );
    const web2 = (await status(h.client)).servers.find((s) => s.name === "web-2")!;
    const res = await get(`http://${web2.address}:8080/`);
    assert.equal(JSON.parse(res.body).version, "2.0.0");
  });

  test("an app with secrets, started from the image before the join, is restarted with them once the agent joined", async () => {
    await h.client.request("PUT", "/v1/apps/hello/secrets/GREETING", { value: "bonjour" });
    await waitFor("web:current on 2.0.0", async () => (await currentImage())?.version === "2.0.0");
    const scaled = await h.client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 3 });
    assert.deepEqual(scaled.launched, ["web-3"]);
    // Each time the control plane has web-3 in service, it answers with its secret.
    const greetings = new Set<string>();
    const web3 = await waitFor(
      "web-3 in service",
      async () => {
        const s = (await status(h.client)).servers.find((x) => x.name === "web-3");
        if (!s?.in_service) return null;
        const res = await get(`http://${s.address}:8080/`).catch(() => null);
        greetings.add(res?.status === 200 ? JSON.parse(res.body).greeting : "no answer");
        return greetings.size >= 1 && s.version === "2.0.0" ? s : null;
      },
      60_000,
      20,
    );
    assert.deepEqual([...greetings], ["bonjour"], "never in service without its secrets");
    const body = JSON.parse((await get(`http://${web3.address}:8080/`)).body);
    assert.equal(body.greeting, "bonjour");
    const appLog = await readFile(join(h.dir, "data", "servers", "web-3", "app.log"), "utf8");
    assert.equal(appLog.match(/ started sha256:/g)?.length, 2, "started, then restarted once");
  });
});

describe("the boot of a server from a golden image (issue 13)", { timeout: 600_000 }, () => {
  let h: TestPlane;
  let image = "";

  before(async () => {
    // Every agent SIGKILLs itself once, right after its boot started the app (before the join).
    h = await startTestPlane({
      apiPrefix: "127.95.12",
      serverPrefix: "127.95.13",
      agentEnv: { STRATA_FAILPOINT: "boot.started" },
    });
    await h.client.post("/v1/fleet/up", { group: "web", count: 1 });
    await waitFor("web-1 to join", async () =>
      (await status(h.client)).servers.some((s) => s.name === "web-1" && s.state !== "launching"),
    );
    await build(h.client, EXAMPLE_APP, "1.0.0");
    const d = await deployAndWait(h.client, { version: "1.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    image = await waitFor("web:current on 1.0.0", async () => {
      const view = await h.client.get<ImagesView>("/v1/images?group=web");
      const c = view.channels.find((x) => x.name === "web:current");
      return c?.up_to_date ? c.image : null;
    });
  });
  after(() => h?.close());

  test("an agent killed during the early start comes back serving, the app it left stopped", async () => {
    await h.client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 2 });
    const root = join(h.dir, "data", "servers", "web-2");
    await waitForServing(h.client, "web", 2, "1.0.0").catch(async (err: unknown) => {
      for (const f of ["agent.log", "app.log", "logs/agent.log"])
        console.error(f, await readFile(join(root, f), "utf8").catch(() => ""));
      throw err;
    });
    assert.ok(
      (await readdir(root)).includes(".failpoint-boot.started"),
      "the agent was killed after it started the app",
    );
    const log = await readFile(join(root, "logs", "agent.log"), "utf8");
    assert.match(log, /stopped the app a previous agent left running/);
    const web2 = (await status(h.client)).servers.find((s) => s.name === "web-2")!;
    assert.equal(JSON.parse((await get(`http://${web2.address}:8080/`)).body).version, "1.0.0");
  });

  test("with the control plane unreachable, a server from the image serves the image's release", async (t) => {
    const root = join(h.dir, "offline");
    await createLocalImageStore({ dir: join(h.dir, "data", "images") }).cloneRoot(image, root);
    const { argv } = await bundleAgent(join(h.dir, "bundle"));
    const address = "127.95.13.200";
    // Nothing listens on port 9 of this address: every join is refused.
    const flags = ["--server", "http://127.95.12.250:9", "--join-token", "x", "--group", "web"];
    const agent = spawn(
      argv[0]!,
      [...argv.slice(1), ...flags, "--root", root, "--address", address],
      {
        stdio: "ignore",
        env: { ...process.env, STRATA_FAILPOINT: "" },
      },
    );
    t.after(async () => {
      agent.kill("SIGTERM");
      if (agent.exitCode === null) await new Promise((r) => agent.once("exit", r));
    });
    const body = await waitFor("the image's release to answer", async () => {
      const res = await get(`http://${address}:8080/`).catch(() => null);
      return res?.status === 200 ? JSON.parse(res.body) : null;
    });
    assert.equal(body.version, "1.0.0");
    await waitFor("the join to be retried", async () =>
      /join: retrying/.test(
        await readFile(join(root, "logs", "agent.log"), "utf8").catch(() => ""),
      ),
    );
    assert.equal((await get(`http://${address}:8080/`)).status, 200, "still serving");
  });
});
