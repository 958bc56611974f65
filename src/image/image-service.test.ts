import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { readCurrent } from "../lib/server-root.js";
import { emptyServer } from "../fleet/fleet.js";
import { channelName } from "./image-service.js";
import { waitFor } from "../lib/test-support.js";
import { StrataError } from "../lib/errors.js";
import { setupImageService, type ImageFixture } from "./test-fixture.js";

type Fixture = ImageFixture;
const setup = setupImageService;

describe("image service", () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await setup();
  });
  afterEach(async () => {
    f.gate.release();
    await f.service.close();
    await f.store.close();
    await rm(f.work, { recursive: true, force: true });
  });

  const appImages = async (fixture = f) => fixture.repo.list({ layer: "app", states: ["active"] });
  const middlewareImages = async (fixture = f) =>
    fixture.repo.list({ layer: "middleware", states: ["active"] });
  const lastBake = async (fixture = f) => (await fixture.repo.listBakes({ limit: 1 }))[0]!;

  test("a deploy bakes middleware then the app on it, and the channel names the app image", async () => {
    const v1 = await f.release("1.0.0");
    f.deploy(v1);
    await f.service.idle();
    const [mw] = await middlewareImages();
    const [app] = await appImages();
    assert.ok(mw && app);
    assert.equal(app.parent, mw.id);
    assert.equal(app.release, v1.id);
    assert.equal(app.recipe_hash, mw.recipe_hash);
    assert.ok((app.size ?? 0) > (mw.size ?? 0));
    assert.ok(app.baked_at !== null && app.bake_ms !== null);
    assert.equal((await f.repo.channel(channelName("web")))?.image, app.id);
    assert.equal(await f.service.imageFor("web"), app.id);
    const bake = await lastBake();
    assert.equal(bake.state, "succeeded");
    assert.match(bake.output ?? "", /provisioning/);
    const root = join(f.work, "images", app.id, "root");
    assert.equal(await readCurrent(root), v1.id);
    assert.equal(await readFile(join(root, "nginx.conf"), "utf8"), "worker_processes 1;\n");
  });

  test("an identical bake is skipped and reported as such", async () => {
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    const before = await f.repo.list();
    await f.service.requestBake("web", "manual");
    await f.service.idle();
    assert.equal((await f.repo.list()).length, before.length, "no new image");
    const bake = await lastBake();
    assert.equal(bake.state, "skipped");
    assert.match(
      bake.detail ?? "",
      new RegExp(`identical to image ${before.find((i) => i.layer === "app")!.id}`),
    );
    assert.ok(f.audit.some((a) => a.action === "image.bake.skipped"));
  });

  test("a waiting bake of the same release is not queued twice", async () => {
    const v1 = await f.release("1.0.0");
    f.gate.hold();
    f.deploy(v1);
    const v2 = await f.release("2.0.0");
    await f.store.groups.update("web", { desired_release: v2.id });
    const first = await f.service.requestBake("web", "manual");
    const second = await f.service.requestBake("web", "manual");
    assert.equal(second.id, first.id);
    f.gate.release();
    await f.service.idle();
  });

  test("middleware is rebaked only when the recipe changes", async () => {
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    f.deploy(await f.release("2.0.0"));
    await f.service.idle();
    assert.equal((await middlewareImages()).length, 1);
    const [v2, v1] = await appImages();
    assert.equal(v2!.parent, v1!.parent);

    await writeFile(join(f.recipe, "nginx.conf"), "worker_processes 4;\n");
    await f.service.requestBake("web", "manual");
    await f.service.idle();
    const mws = await middlewareImages();
    assert.equal(mws.length, 2);
    assert.notEqual(mws[0]!.recipe_hash, mws[1]!.recipe_hash);
    const [rebaked] = await appImages();
    assert.equal(rebaked!.parent, mws[0]!.id, "the app is baked again on the new middleware");
    assert.equal(rebaked!.release, v2!.release);
    assert.equal((await f.repo.channel("web:current"))?.image, rebaked!.id);

    await f.service.requestBake("web", "manual");
    await f.service.idle();
    assert.equal((await lastBake()).state, "skipped");
    assert.equal((await middlewareImages()).length, 2);
  });

  test("the channel moves only once the new release's bake is done; until then launches use the previous image", async () => {
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    const previous = (await appImages())[0]!;

    f.gate.hold();
    const v2 = await f.release("2.0.0");
    f.deploy(v2);
    await f.gate.reached();
    assert.equal((await lastBake()).state, "running");
    assert.equal((await f.repo.channel("web:current"))?.image, previous.id);
    assert.equal(await f.service.imageFor("web"), previous.id);
    const view = await f.service.view("web");
    assert.equal(view.channels[0]?.up_to_date, false);

    f.gate.release();
    await f.service.idle();
    const [current] = await appImages();
    assert.equal(current!.release, v2.id);
    assert.equal(await f.service.imageFor("web"), current!.id);
    assert.equal((await f.service.view("web")).channels[0]?.up_to_date, true);
    assert.ok(
      f.audit.some((a) => a.action === "image.channel.move" && a.detail.to === current!.id),
    );
  });

  test("queued bakes of releases no longer desired are skipped as superseded", async () => {
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    f.gate.hold();
    f.deploy(await f.release("2.0.0"));
    await f.gate.reached();
    f.deploy(await f.release("3.0.0"));
    const v4 = await f.release("4.0.0");
    f.deploy(v4);
    await waitFor(
      "the bakes of 3.0.0 and 4.0.0 queued",
      async () => (await f.repo.listBakes({ limit: 10 })).length === 4,
    );
    f.gate.release();
    await f.service.idle();
    // 2.0.0 was already running (held at its download) and finishes; 3.0.0 never starts.
    const bakes = await f.repo.listBakes({ limit: 3 });
    assert.deepEqual(
      bakes.map((b) => b.state),
      ["succeeded", "skipped", "succeeded"],
    );
    assert.match(bakes[1]!.detail ?? "", /superseded/);
    assert.doesNotMatch(
      bakes[2]!.detail ?? "",
      /web:current/,
      "a bake that lost the race does not move the channel",
    );
    assert.equal((await appImages())[0]!.release, v4.id);
    assert.equal((await f.repo.channel("web:current"))?.image, (await appImages())[0]!.id);
  });

  test("a failing recipe fails the bake with its output and leaves the channel unchanged", async () => {
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    const channel = await f.repo.channel("web:current");
    await writeFile(
      join(f.recipe, "provision.sh"),
      "echo fetching packages\necho 'E: package nginx-extras not found' >&2\nexit 100\n",
    );
    f.deploy(await f.release("2.0.0"));
    await f.service.idle();
    const bake = await lastBake();
    assert.equal(bake.state, "failed");
    assert.match(bake.error ?? "", /provision\.sh: exited with 100/);
    assert.match(bake.output ?? "", /fetching packages/);
    assert.match(bake.output ?? "", /nginx-extras not found/);
    assert.deepEqual(await f.repo.channel("web:current"), channel);
    const killed = await f.repo.list({ states: ["killed"] });
    assert.equal(killed.length, 1);
    assert.equal(killed[0]!.layer, "middleware");
    const failed = f.audit.find((a) => a.action === "image.bake.failed");
    assert.match(String(failed?.detail.output), /nginx-extras not found/);
    const view = await f.service.view("web");
    assert.equal(view.bakes[0]?.state, "failed");
    assert.equal(view.images.find((i) => i.state === "killed")?.error, bake.error);
  });

  test("gc keeps the newest N per group, channel targets, images live servers came from, and their middleware", async () => {
    const releases = [];
    for (const v of ["1", "2", "3", "4"]) {
      releases.push(await f.release(`${v}.0.0`));
      f.deploy(releases.at(-1)!);
      await f.service.idle();
    }
    const apps = await appImages();
    assert.equal(apps.length, 4, "auto gc keeps 5");
    const oldest = apps.at(-1)!;
    await f.store.servers.insert({
      ...emptyServer("web-1", "web", "127.0.0.2", Date.now(), null),
      image: oldest.id,
    });

    const dry = await f.service.gc({ keep: 1, dryRun: true });
    assert.deepEqual(dry.deleted.map((d) => d.id).sort(), [apps[1]!.id, apps[2]!.id].sort());
    assert.equal((await appImages()).length, 4, "a dry run deletes nothing");

    const done = await f.service.gc({ keep: 1 });
    assert.deepEqual(done.deleted.map((d) => d.id).sort(), [apps[1]!.id, apps[2]!.id].sort());
    assert.deepEqual(
      (await appImages()).map((i) => i.id),
      [apps[0]!.id, oldest.id],
    );
    assert.equal((await middlewareImages()).length, 1);
    assert.equal(await f.images.get(apps[1]!.id), null, "the content is gone too");
    assert.match(done.kept.find((k) => k.id === oldest.id)?.reason ?? "", /web-1/);
    await assert.rejects(f.service.gc({ keep: -1 }), { code: "bad_request" });
  });

  test("gc keeps an image the store refuses to delete (Glance: protected or in use) and deletes the rest", async () => {
    for (const v of ["1", "2", "3"]) {
      f.deploy(await f.release(`${v}.0.0`));
      await f.service.idle();
    }
    const apps = await appImages();
    const refused = apps.at(-1)!.id;
    const remove = f.images.delete.bind(f.images);
    f.images.delete = async (id) => {
      if (id === refused)
        throw new StrataError("conflict", `[image] glance: image ${id} is protected`);
      return remove(id);
    };
    const done = await f.service.gc({ keep: 1 });
    assert.deepEqual(
      done.deleted.map((d) => d.id),
      [apps[1]!.id],
    );
    assert.match(done.kept.find((k) => k.id === refused)?.reason ?? "", /is protected/);
    assert.deepEqual(
      (await appImages()).map((i) => i.id),
      [apps[0]!.id, refused],
    );
  });

  test("a store that replaces the queued image by the built one (Glance's snapshot) leaves records of the built ids only", async () => {
    const { build, create, get } = f.images;
    f.images.build = async (id, request, signal) => {
      const replacement = await create({
        name: "snapshot",
        properties: (await get(id))!.properties,
      });
      const result = await build(replacement.id, request, signal);
      await f.images.delete(id);
      return result;
    };
    f.deploy(await f.release("1.0.0"));
    await f.service.idle();
    assert.equal((await lastBake()).state, "succeeded");
    const records = await f.repo.list();
    assert.equal(records.length, 2, "middleware and app, no stand-ins");
    for (const record of records) assert.equal((await get(record.id))?.state, "active");
    const [app] = await appImages();
    assert.equal(app!.parent, (await middlewareImages())[0]!.id);
    assert.equal((await f.repo.channel(channelName("web")))?.image, app!.id);
  });

  test("after each bake, gc keeps images.keep app images", async () => {
    const small = await setup({ keep: 2 });
    try {
      for (const v of ["1", "2", "3"]) {
        small.deploy(await small.release(`${v}.0.0`));
        await small.service.idle();
      }
      assert.equal((await appImages(small)).length, 2);
      assert.ok(small.audit.some((a) => a.action === "image.delete"));
    } finally {
      await small.service.close();
      await small.store.close();
      await rm(small.work, { recursive: true, force: true });
    }
  });

  test("a group without a recipe bakes its app on the base", async () => {
    const bare = await setup({ recipe: false });
    try {
      const v1 = await bare.release("1.0.0");
      bare.deploy(v1);
      await bare.service.idle();
      const [app] = await appImages(bare);
      assert.equal(app?.parent, null);
      assert.equal((await middlewareImages(bare)).length, 0);
      assert.equal(await bare.service.imageFor("web"), app!.id);
    } finally {
      await bare.service.close();
      await bare.store.close();
      await rm(bare.work, { recursive: true, force: true });
    }
  });

  test("before any app image, new servers launch from the middleware image; with nothing, from the base", async () => {
    assert.equal(await f.service.imageFor("web"), null);
    await writeFile(join(f.recipe, "provision.sh"), "exit 0\n");
    f.gate.hold();
    f.deploy(await f.release("1.0.0"));
    await f.gate.reached();
    const [mw] = await middlewareImages();
    assert.ok(mw, "the middleware layer is baked before the download");
    assert.equal(await f.service.imageFor("web"), mw.id);
    f.gate.release();
    await f.service.idle();
  });

  test("requestBake refuses unknown groups and groups with nothing to bake", async () => {
    await assert.rejects(f.service.requestBake("nope", "manual"), { code: "not_found" });
    await assert.rejects(f.service.requestBake("web", "manual"), { code: "bad_request" });
    await assert.rejects(f.service.requestBake("Web!", "manual"), { code: "bad_request" });
  });

  test("close aborts a running bake: the image is killed and the bake failed", async () => {
    f.gate.hold();
    f.deploy(await f.release("1.0.0"));
    await f.gate.reached();
    const closing = f.service.close();
    f.gate.release();
    await closing;
    const bake = await lastBake();
    assert.equal(bake.state, "failed");
    assert.match(bake.error ?? "", /control plane stopped/);
    assert.equal((await appImages()).length, 0);
    assert.equal(await f.repo.channel("web:current"), null);
  });

  test("start fails what a previous process left unfinished and bakes groups whose channel lags", async () => {
    const v1 = await f.release("1.0.0");
    await f.store.groups.update("web", { desired_release: v1.id });
    await f.repo.insertBake({
      id: "bake-left",
      group: "web",
      release: v1.id,
      reason: "deploy",
      state: "running",
      step: "app",
      image: null,
      middleware_image: null,
      detail: null,
      error: null,
      output: null,
      requested_at: 1,
      started_at: 2,
      finished_at: null,
    });
    await f.service.start();
    await f.service.idle();
    assert.equal((await f.repo.getBake("bake-left"))?.state, "failed");
    assert.equal((await lastBake()).reason, "start");
    assert.equal((await appImages())[0]?.release, v1.id);

    const again = (await f.repo.listBakes()).length;
    await f.service.start();
    await f.service.idle();
    assert.equal(
      (await f.repo.listBakes()).length,
      again,
      "nothing to do when the channel is in step",
    );
  });
});
