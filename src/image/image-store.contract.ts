import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import { packDirectory } from "../artifact/pack.js";
import {
  ImageBuildError,
  type ImageStore,
  type RecipeLayer,
  type ReleaseLayer,
} from "./image-store.js";
import { runCases } from "../lib/contract.js";

export type ImageStoreCase =
  | "create registers a queued image"
  | "a recipe layer on the base becomes active with a size"
  | "a release layer on a parent becomes active and leaves the parent active"
  | "a failing provision.sh kills the image and carries its output"
  | "a timed-out provision.sh kills the image"
  | "a failing download kills the image"
  | "build refuses an image that is not queued"
  | "list filters by properties, newest first"
  | "delete is idempotent and get returns null afterwards";

export interface ImageStoreContractOptions {
  /** Names the suite when an implementation runs it in several configurations. @default "ImageStore contract" */
  name?: string;
  /** A fresh, empty store for each case; `cleanup` removes what it made. */
  create: () => Promise<{ store: ImageStore; cleanup: () => Promise<void> }>;
  /** Cases an implementation cannot run here, each with the reason. */
  skip?: Partial<Record<ImageStoreCase, string>>;
}

/** The behaviour every ImageStore shares; run it from each implementation's test file. */
export function runImageStoreContract(options: ImageStoreContractOptions): void {
  let work = "";
  let tarball = "";
  let releaseId = "";
  const recipe = async (name: string, script: string | null): Promise<RecipeLayer> => {
    const dir = join(work, `recipe-${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "motd"), `recipe ${name}\n`);
    if (script !== null) await writeFile(join(dir, "provision.sh"), script);
    return { kind: "recipe", dir, timeoutMs: 10_000 };
  };
  const release = (): ReleaseLayer => ({
    kind: "release",
    release: { id: releaseId, version: "1.0.0" },
    download: (dest) => copyFile(tarball, dest),
  });

  const cases: Record<ImageStoreCase, (store: ImageStore) => Promise<void>> = {
    "create registers a queued image": async (store) => {
      const image = await store.create({ name: "web-mw", properties: { "strata:group": "web" } });
      assert.equal(image.state, "queued");
      assert.equal(image.size, null);
      assert.deepEqual(await store.get(image.id), image);
      assert.equal(image.properties["strata:group"], "web");
    },
    "a recipe layer on the base becomes active with a size": async (store) => {
      const image = await store.create({ name: "web-mw" });
      const { image: built, output } = await store.build(image.id, {
        parent: null,
        layer: await recipe("ok", "echo provisioned in $(pwd)\n"),
      });
      assert.equal(built.state, "active");
      assert.ok((built.size ?? 0) > 0, "an image with files has a size");
      assert.match(output, /provisioned in/);
      assert.equal((await store.get(image.id))?.state, "active");
    },
    "a release layer on a parent becomes active and leaves the parent active": async (store) => {
      const queued = await store.create({ name: "web-mw" });
      const { image: parent } = await store.build(queued.id, {
        parent: null,
        layer: await recipe("parent", null),
      });
      const child = await store.create({ name: "web-app" });
      const { image } = await store.build(child.id, { parent: parent.id, layer: release() });
      assert.equal(image.state, "active");
      const parentAfter = await store.get(parent.id);
      assert.equal(parentAfter?.state, "active");
      assert.ok(
        (image.size ?? 0) > (parentAfter?.size ?? 0),
        "the app layer adds bytes to its parent",
      );
    },
    "a failing provision.sh kills the image and carries its output": async (store) => {
      const image = await store.create({ name: "web-mw" });
      const layer = await recipe(
        "fail",
        "echo installing nginx\necho 'E: unable to locate nginx' >&2\nexit 3\n",
      );
      const err = await store.build(image.id, { parent: null, layer }).then(
        () => assert.fail("the build should fail"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ImageBuildError, `expected ImageBuildError, got ${String(err)}`);
      assert.equal(err.code, "hook_failed");
      assert.match(err.message, /exited with 3/);
      assert.match(err.output, /installing nginx/);
      assert.match(err.output, /unable to locate nginx/);
      assert.equal((await store.get(image.id))?.state, "killed");
    },
    "a timed-out provision.sh kills the image": async (store) => {
      const image = await store.create({ name: "web-mw" });
      const layer = { ...(await recipe("slow", "echo starting\nsleep 30\n")), timeoutMs: 300 };
      const err = await store.build(image.id, { parent: null, layer }).catch((e: unknown) => e);
      assert.ok(err instanceof ImageBuildError);
      assert.equal(err.code, "timeout");
      assert.match(err.output, /starting/);
      assert.equal((await store.get(image.id))?.state, "killed");
    },
    "a failing download kills the image": async (store) => {
      const image = await store.create({ name: "web-app" });
      const layer: ReleaseLayer = {
        ...release(),
        download: async () => {
          throw new Error("connection reset");
        },
      };
      await assert.rejects(store.build(image.id, { parent: null, layer }), /connection reset/);
      assert.equal((await store.get(image.id))?.state, "killed");
    },
    "build refuses an image that is not queued": async (store) => {
      const queued = await store.create({ name: "web-mw" });
      const { image } = await store.build(queued.id, {
        parent: null,
        layer: await recipe("twice", null),
      });
      await assert.rejects(
        store.build(image.id, { parent: null, layer: await recipe("twice", null) }),
        {
          code: "conflict",
        },
      );
      assert.equal((await store.get(image.id))?.state, "active");
    },
    "list filters by properties, newest first": async (store) => {
      const a = await store.create({ name: "a", properties: { "strata:group": "web" } });
      await new Promise((r) => setTimeout(r, 5));
      const b = await store.create({ name: "b", properties: { "strata:group": "api" } });
      await new Promise((r) => setTimeout(r, 5));
      const c = await store.create({
        name: "c",
        properties: { "strata:group": "web", "strata:layer": "app" },
      });
      assert.deepEqual(
        (await store.list({ "strata:group": "web" })).map((i) => i.id),
        [c.id, a.id],
      );
      assert.deepEqual(
        (await store.list()).map((i) => i.id),
        [c.id, b.id, a.id],
      );
    },
    "delete is idempotent and get returns null afterwards": async (store) => {
      const queued = await store.create({ name: "web-mw" });
      const { image } = await store.build(queued.id, {
        parent: null,
        layer: await recipe("delete", null),
      });
      await store.delete(image.id);
      await store.delete(image.id);
      assert.equal(await store.get(image.id), null);
      assert.deepEqual(await store.list(), []);
    },
  };

  describe(options.name ?? "ImageStore contract", () => {
    before(async () => {
      work = await mkdtemp(join(tmpdir(), "strata-image-contract-"));
      await mkdir(join(work, "app"));
      await writeFile(join(work, "app", "strata.yaml"), "start: node server.js\n");
      await writeFile(join(work, "app", "server.js"), "// app\n");
      const packed = await packDirectory(join(work, "app"), join(work, "release.tar.gz"));
      tarball = packed.file;
      releaseId = packed.id;
    });
    after(() => rm(work, { recursive: true, force: true }));

    runCases(
      cases,
      async () => {
        const { store, cleanup } = await options.create();
        return { subject: store, close: cleanup };
      },
      options.skip,
    );
  });
}
