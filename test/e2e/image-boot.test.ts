import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
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
    h = await startTestPlane({ apiPrefix: "127.95.10", serverPrefix: "127.95.11" });
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
  });

  test("a server booted from the image fetches only the changed files on its next deploy (the gap: its store was empty, so that deploy was a full one)", async () => {
    const image = (await currentImage())!.image;
    const scaled = await h.client.post<ScaleView>("/v1/fleet/scale", { group: "web", count: 2 });
    assert.deepEqual(scaled.launched, ["web-2"]);
    assert.equal(scaled.image, image);
    await waitForServing(h.client, "web", 2, "1.0.0");

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
    // The changed content, the gzip'd manifest (~10 KiB for ~110 entries) and framing.
    assert.ok(
      bytes >= FILE_BYTES && bytes < FILE_BYTES + 32 * 1024,
      `${bytes} bytes fetched for ${FILE_BYTES} bytes of changed content`,
    );
    const web2 = (await status(h.client)).servers.find((s) => s.name === "web-2")!;
    const res = await get(`http://${web2.address}:8080/`);
    assert.equal(JSON.parse(res.body).version, "2.0.0");
  });
});
