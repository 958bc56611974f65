import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { afterEach, beforeEach, describe, test } from "node:test";
import { Hono } from "hono";
import { setupImageService, type ImageFixture } from "../../image/test-fixture.js";
import type { BakeView, GcView, ImagesView } from "../../wire/image.js";
import { errorResponse } from "../http-errors.js";
import { imageRoutes } from "./images.js";

describe("image routes (real image service)", () => {
  let f: ImageFixture;
  let app: Hono;
  beforeEach(async () => {
    f = await setupImageService();
    app = new Hono();
    app.onError(errorResponse);
    app.route("/v1", imageRoutes({ images: f.service }));
  });
  afterEach(async () => {
    await f.service.close();
    await f.store.close();
    await rm(f.work, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });

  test("POST /v1/images/bakes enqueues and answers 202 with the bake; GET follows it", async () => {
    const release = await f.release("1.0.0");
    await f.store.groups.update("web", { desired_release: release.id, app: "hello" });
    const res = await post("/v1/images/bakes", { group: "web" });
    assert.equal(res.status, 202);
    const bake = (await res.json()) as BakeView;
    assert.equal(bake.group, "web");
    assert.equal(bake.release, release.id);
    assert.equal(bake.reason, "manual");
    await f.service.idle();
    const done = (await (await app.request(`/v1/images/bakes/${bake.id}`)).json()) as BakeView;
    assert.equal(done.state, "succeeded", done.error ?? "");
    const view = (await (await app.request("/v1/images?group=web")).json()) as ImagesView;
    assert.equal(view.channels.find((c) => c.name === "web:current")?.image, done.image);
    assert.equal((await app.request(`/v1/images/${done.image}`)).status, 200);
  });

  test("bad and unknown input map to their codes and change nothing", async () => {
    const missing = await post("/v1/images/bakes", {});
    assert.equal(missing.status, 400);
    const noRelease = await post("/v1/images/bakes", { group: "web" });
    assert.ok(noRelease.status >= 400 && noRelease.status < 500, `status ${noRelease.status}`);
    assert.match(
      ((await noRelease.json()) as { error: { message: string } }).error.message,
      /no desired release/,
    );
    assert.equal((await app.request("/v1/images/bakes/bake-9")).status, 404);
    assert.equal((await app.request("/v1/images/img-000000000000")).status, 404);
    assert.equal((await post("/v1/images/gc", { keep: "2" })).status, 400);
    assert.deepEqual(await f.repo.listBakes({ limit: 10 }), []);
  });

  test("POST /v1/images/gc passes keep and dry_run through", async () => {
    const res = await post("/v1/images/gc", { keep: 2, dry_run: true });
    assert.equal(res.status, 200);
    const gc = (await res.json()) as GcView;
    assert.equal(gc.dry_run, true);
    assert.equal(gc.keep, 2);
    assert.deepEqual(gc.deleted, []);
  });
});
