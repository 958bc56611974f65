import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { BakeRecord, ImageRecord, ImageRepo } from "./image-repo.js";

export interface ImageRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: ImageRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

export function image(id: string, patch: Partial<ImageRecord> = {}): ImageRecord {
  return {
    id,
    group: "web",
    layer: "app",
    name: id,
    parent: null,
    recipe_hash: null,
    release: null,
    version: null,
    bake_key: `key-${id}`,
    state: "queued",
    size: null,
    created_at: 1000,
    baked_at: null,
    bake_ms: null,
    error: null,
    ...patch,
  };
}

export function bake(id: string, patch: Partial<BakeRecord> = {}): BakeRecord {
  return {
    id,
    group: "web",
    release: null,
    reason: "manual",
    state: "queued",
    step: null,
    image: null,
    middleware_image: null,
    detail: null,
    error: null,
    output: null,
    requested_at: 1000,
    started_at: null,
    finished_at: null,
    ...patch,
  };
}

/** The behaviour every ImageRepo implementation must have. */
export function runImageRepoContract(options: ImageRepoContractOptions): void {
  const cases: Record<string, (repo: ImageRepo) => Promise<void>> = {
    "stores an image and reads it back, group included": async (repo) => {
      const record = image("img-a", {
        group: "api",
        layer: "middleware",
        recipe_hash: "sha256:ab",
        size: 12,
      });
      await repo.insert(record);
      assert.deepEqual(await repo.get("img-a"), record);
      assert.equal(await repo.get("img-b"), null);
    },
    "lists newest first, filtered by group, layer and state": async (repo) => {
      await repo.insert(image("img-1", { created_at: 1, state: "active" }));
      await repo.insert(image("img-2", { created_at: 2, layer: "middleware", state: "active" }));
      await repo.insert(image("img-3", { created_at: 3, state: "killed" }));
      await repo.insert(image("img-4", { created_at: 4, group: "api", state: "active" }));
      const ids = async (filter: Parameters<typeof repo.list>[0]) =>
        (await repo.list(filter)).map((i) => i.id);
      assert.deepEqual(await ids({}), ["img-4", "img-3", "img-2", "img-1"]);
      assert.deepEqual(await ids({ group: "web", layer: "app" }), ["img-3", "img-1"]);
      assert.deepEqual(await ids({ states: ["active"], group: "web" }), ["img-2", "img-1"]);
      assert.deepEqual(await ids({ states: [] }), []);
    },
    "findActive returns the newest active image of a bake key only": async (repo) => {
      await repo.insert(image("img-old", { bake_key: "k", created_at: 1, state: "active" }));
      await repo.insert(image("img-new", { bake_key: "k", created_at: 2, state: "active" }));
      await repo.insert(image("img-killed", { bake_key: "k", created_at: 3, state: "killed" }));
      await repo.insert(image("img-saving", { bake_key: "k2", created_at: 4, state: "saving" }));
      assert.equal((await repo.findActive("k"))?.id, "img-new");
      assert.equal(await repo.findActive("k2"), null);
    },
    "update changes only the given fields; delete is idempotent": async (repo) => {
      await repo.insert(image("img-a"));
      await repo.update("img-a", {
        state: "active",
        size: 42,
        baked_at: 5,
        bake_ms: 4,
        group: "api",
      });
      const got = await repo.get("img-a");
      assert.equal(got?.state, "active");
      assert.equal(got?.size, 42);
      assert.equal(got?.group, "api");
      assert.equal(got?.bake_key, "key-img-a");
      await repo.delete("img-a");
      await repo.delete("img-a");
      assert.equal(await repo.get("img-a"), null);
    },
    "bakes: insert, update, list newest first with filters": async (repo) => {
      await repo.insertBake(bake("b1", { requested_at: 1 }));
      await repo.insertBake(bake("b2", { requested_at: 2, group: "api" }));
      await repo.insertBake(bake("b3", { requested_at: 3 }));
      await repo.updateBake("b1", { state: "failed", error: "[image] boom", output: "line\n" });
      assert.deepEqual(
        await repo.getBake("b1"),
        bake("b1", { requested_at: 1, state: "failed", error: "[image] boom", output: "line\n" }),
      );
      assert.deepEqual(
        (await repo.listBakes()).map((b) => b.id),
        ["b3", "b2", "b1"],
      );
      assert.deepEqual(
        (await repo.listBakes({ group: "web", states: ["queued"] })).map((b) => b.id),
        ["b3"],
      );
      assert.deepEqual(
        (await repo.listBakes({ limit: 1 })).map((b) => b.id),
        ["b3"],
      );
    },
    "channels are created and moved": async (repo) => {
      assert.equal(await repo.channel("web:current"), null);
      await repo.setChannel("web:current", "img-a", 1);
      await repo.setChannel("web:current", "img-b", 2);
      await repo.setChannel("api:current", "img-c", 3);
      assert.deepEqual(await repo.channel("web:current"), {
        name: "web:current",
        image: "img-b",
        updated_at: 2,
      });
      assert.deepEqual(
        (await repo.channels()).map((c) => c.name),
        ["api:current", "web:current"],
      );
      await repo.deleteChannel("web:current");
      await repo.deleteChannel("web:current");
      assert.equal(await repo.channel("web:current"), null);
      assert.equal((await repo.channels()).length, 1);
    },
    "an unknown state is refused": async (repo) => {
      await assert.rejects(repo.insert(image("img-x", { state: "deleted" as never })));
    },
  };

  describe("ImageRepo contract", () => {
    runCases(
      cases,
      async () => {
        const { repo, close } = await options.create();
        return { subject: repo, close };
      },
      options.skip,
    );
  });
}
