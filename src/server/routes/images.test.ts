import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Hono } from "hono";
import type { BakeRecord } from "../../image/image-records.js";
import type { ImageService } from "../../image/image-service.js";
import { StrataError } from "../../lib/errors.js";
import type { BakeView, GcView } from "../../wire/image.js";
import { errorResponse } from "../http-errors.js";
import { imageRoutes } from "./images.js";

function bakeView(id: string, group: string): BakeView {
  return {
    id,
    group,
    release: "sha256:" + "a".repeat(64),
    version: "1.0.0",
    reason: "manual",
    state: "queued",
    step: null,
    image: null,
    middleware_image: null,
    detail: null,
    error: null,
    output: null,
    requested_at: new Date(0).toISOString(),
    started_at: null,
    finished_at: null,
  };
}

function setup() {
  const calls: string[] = [];
  const images: ImageService = {
    start: async () => undefined,
    requestBake: async (group) => {
      if (group !== "web") throw new StrataError("not_found", `[image] bake: no group ${group}`);
      calls.push(`bake ${group}`);
      return { id: "bake-1", group } as BakeRecord;
    },
    onDeploymentSucceeded: () => undefined,
    imageFor: async (group) => (group === "web" ? "img-000000000001" : null),
    view: async () => ({ images: [], channels: [], bakes: [] }),
    bake: async (id) => (id === "bake-1" ? bakeView(id, "web") : null),
    gc: async (options = {}): Promise<GcView> => {
      calls.push(`gc keep=${options.keep} dry=${options.dryRun}`);
      return { dry_run: Boolean(options.dryRun), keep: options.keep ?? 5, deleted: [], kept: [] };
    },
    idle: async () => undefined,
    close: async () => undefined,
  };
  const app = new Hono();
  app.onError(errorResponse);
  app.route("/v1", imageRoutes({ images }));
  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
  return { app, calls, post };
}

describe("image routes", () => {
  test("POST /v1/images/bakes enqueues and answers 202 with the bake", async () => {
    const { post, calls } = setup();
    const res = await post("/v1/images/bakes", { group: "web" });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as BakeView).id, "bake-1");
    assert.deepEqual(calls, ["bake web"]);
  });

  test("POST /v1/images/bakes maps errors to their codes", async () => {
    const { post } = setup();
    const missing = await post("/v1/images/bakes", {});
    assert.equal(missing.status, 400);
    const unknown = await post("/v1/images/bakes", { group: "api" });
    assert.equal(unknown.status, 404);
    assert.deepEqual(await unknown.json(), {
      error: { code: "not_found", message: "[image] bake: no group api" },
    });
  });

  test("GET /v1/images/bakes/:id", async () => {
    const { app } = setup();
    assert.equal((await app.request("/v1/images/bakes/bake-1")).status, 200);
    assert.equal((await app.request("/v1/images/bakes/bake-9")).status, 404);
  });

  test("POST /v1/images/gc passes keep and dry_run", async () => {
    const { post, calls } = setup();
    const res = await post("/v1/images/gc", { keep: 2, dry_run: true });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as GcView).dry_run, true);
    await post("/v1/images/gc", {});
    assert.deepEqual(calls, ["gc keep=2 dry=true", "gc keep=undefined dry=false"]);
    assert.equal((await post("/v1/images/gc", { keep: "2" })).status, 400);
  });
});
