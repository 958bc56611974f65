import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { testbedClient, testbedSkip, TESTBED } from "../../lib/openstack/testbed.js";
import { waitFor } from "../../lib/test-support.js";
import { runImageStoreContract, type ImageStoreCase } from "../image-store.contract.js";
import type { ImageStore, RecipeLayer } from "../image-store.js";
import { createGlanceImageStore } from "./glance-image-store.js";
import { hypervisorStandIn, type NovaServer, type GlanceImage } from "./testbed-hypervisor.js";

const skip = testbedSkip();
const client = testbedClient();

const builderSettings = {
  flavor: TESTBED.flavor,
  network: TESTBED.network,
  baseImage: TESTBED.baseImage,
};

function glanceStore(namespace: string, overrides: { snapshotTimeoutMs?: number } = {}) {
  return createGlanceImageStore({
    client,
    builder: builderSettings,
    namespace,
    pollMs: 250,
    ...overrides,
  });
}

async function removeAll(store: ImageStore): Promise<void> {
  for (const image of await store.list()) {
    await client.request("image", "PATCH", `/images/${image.id}`, {
      raw: Buffer.from(JSON.stringify([{ op: "replace", path: "/protected", value: false }])),
      contentType: "application/openstack-images-v2.1-json-patch",
      accept: [404],
    });
    await client.request("image", "DELETE", `/images/${image.id}`, { accept: [404] });
  }
}

const noScript =
  "the testbed's fake hypervisor runs no user data and its console output is fixed text: the script's output and exit status cannot show";
const skipped: Partial<Record<ImageStoreCase, string>> = {
  "a recipe layer on the base becomes active with a size": noScript,
  "a failing provision.sh kills the image and carries its output": noScript,
  "a timed-out provision.sh kills the image": noScript,
};
const every: ImageStoreCase[] = [
  "create registers a queued image",
  "a recipe layer on the base becomes active with a size",
  "a release layer on a parent becomes active and leaves the parent active",
  "a failing provision.sh kills the image and carries its output",
  "a timed-out provision.sh kills the image",
  "a failing download kills the image",
  "build refuses an image that is not queued",
  "list filters by properties, newest first",
  "delete is idempotent and get returns null afterwards",
];

runImageStoreContract({
  name: "ImageStore contract: glance (testbed Glance, bakes through Nova's fake hypervisor)",
  create: async () => {
    const namespace = `test-${randomBytes(4).toString("hex")}`;
    const store = glanceStore(namespace);
    const standIn = hypervisorStandIn(client, namespace);
    return {
      store,
      cleanup: async () => {
        await standIn.stop();
        await removeAll(store);
      },
    };
  },
  skip: skip ? Object.fromEntries(every.map((name) => [name, skip])) : skipped,
});

describe("Glance image store against the testbed", { skip }, () => {
  let work = "";
  let recipe: RecipeLayer;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-glance-"));
    await mkdir(join(work, "recipe"));
    await writeFile(join(work, "recipe", "provision.sh"), "echo hello\n");
    recipe = { kind: "recipe", dir: join(work, "recipe"), timeoutMs: 10_000 };
  });
  after(() => rm(work, { recursive: true, force: true }));

  test("a bake replaces the queued image by the snapshot, with the layer's properties, and deletes its builder", async () => {
    const namespace = `test-${randomBytes(4).toString("hex")}`;
    const store = glanceStore(namespace);
    const standIn = hypervisorStandIn(client, namespace);
    try {
      const queued = await store.create({
        name: "web-mw",
        properties: { "strata:group": "web", "strata:recipe-hash": "sha256:ab" },
      });
      const { image } = await store.build(queued.id, { parent: null, layer: recipe });
      assert.notEqual(image.id, queued.id);
      assert.equal(image.state, "active");
      assert.deepEqual(image.properties, queued.properties);
      assert.equal(await store.get(queued.id), null, "the queued stand-in is gone");
      const raw = await client.request<Record<string, unknown>>(
        "image",
        "GET",
        `/images/${image.id}`,
      );
      assert.equal(raw.body.image_type, "snapshot", "Nova made it");
      const builders = await client.list<NovaServer>("compute", "/servers/detail", "servers", {
        tags: `strata,strata:builder=${queued.id}`,
      });
      assert.deepEqual(
        builders.filter((s) => s.status !== "DELETED"),
        [],
      );
    } finally {
      await standIn.stop();
      await removeAll(store);
    }
  });

  test("a snapshot that never turns active fails the bake and leaves neither it nor the builder", async () => {
    const namespace = `test-${randomBytes(4).toString("hex")}`;
    // The first look at the snapshot, right after createImage, already fails the wait: no stand-in
    // (this process's or another test process's) can upload it in between.
    const store = glanceStore(namespace, { snapshotTimeoutMs: 1 });
    // Stops builders but uploads nothing: the fake hypervisor's own behaviour.
    const standIn = hypervisorStandIn(client, namespace, { upload: false });
    try {
      const name = `mw-${randomBytes(3).toString("hex")}`;
      const queued = await store.create({ name });
      await assert.rejects(store.build(queued.id, { parent: null, layer: recipe }), {
        code: "timeout",
        message: /snapshot .* turning active: not done after 1 ms/,
      });
      assert.equal((await store.get(queued.id))?.state, "killed");
      const builders = await client.list<NovaServer>("compute", "/servers/detail", "servers", {
        tags: `strata,strata:builder=${queued.id}`,
      });
      assert.deepEqual(
        builders.filter((s) => s.status !== "DELETED"),
        [],
      );
      const snapshots = (
        await client.list<GlanceImage & { image_type?: string }>("image", "/images", "images", {
          name,
        })
      ).filter((i) => i.image_type === "snapshot");
      assert.deepEqual(snapshots, []);
      assert.deepEqual(
        (await store.list()).map((i) => i.id),
        [queued.id],
        "only the killed stand-in is left, for GC",
      );
    } finally {
      await standIn.stop();
      await removeAll(store);
    }
  });

  test("delete refuses a protected image and one a server was launched from", async () => {
    const namespace = `test-${randomBytes(4).toString("hex")}`;
    const store = glanceStore(namespace);
    const standIn = hypervisorStandIn(client, namespace);
    try {
      const queued = await store.create({ name: "web-app" });
      const { image } = await store.build(queued.id, { parent: null, layer: recipe });
      await standIn.stop();
      const server = await client.request<{ server: { id: string } }>(
        "compute",
        "POST",
        "/servers",
        {
          body: {
            server: {
              name: `uses-${image.id.slice(0, 8)}`,
              imageRef: image.id,
              flavorRef: "strata-tiny",
              networks: "none",
            },
          },
        },
      );
      await assert.rejects(store.delete(image.id), {
        code: "conflict",
        message: /is in use by server uses-/,
      });
      await client.request("compute", "DELETE", `/servers/${server.body.server.id}`);
      await waitFor(
        "the server to be deleted",
        async () =>
          (
            await client.request("compute", "GET", `/servers/${server.body.server.id}`, {
              accept: [404],
            })
          ).status === 404,
        120_000,
      );
      await client.request("image", "PATCH", `/images/${image.id}`, {
        raw: Buffer.from(JSON.stringify([{ op: "replace", path: "/protected", value: true }])),
        contentType: "application/openstack-images-v2.1-json-patch",
      });
      await assert.rejects(store.delete(image.id), { code: "conflict", message: /is protected/ });
      assert.equal((await store.get(image.id))?.state, "active");
    } finally {
      await standIn.stop();
      await removeAll(store);
    }
  });

  test("a release whose bytes do not match its id fails the bake with the builder's console line; nothing is left", async () => {
    const namespace = `test-${randomBytes(4).toString("hex")}`;
    const root = await mkdtemp(join(work, "root-"));
    const store = createGlanceImageStore({
      client,
      builder: { ...builderSettings, root },
      namespace,
      pollMs: 250,
    });
    const standIn = hypervisorStandIn(client, namespace, {
      run: { admin: testbedClient("admin"), root },
    });
    // Serves bytes that are not the release: the builder's sha256 check must catch it.
    const http = createServer((_req, res) => res.writeHead(200).end(randomBytes(4096)));
    await new Promise<void>((resolve) => http.listen(0, "127.91.0.5", resolve));
    const url = `http://127.91.0.5:${(http.address() as AddressInfo).port}/artifact`;
    const id = `sha256:${"ab".repeat(32)}`;
    try {
      const queued = await store.create({ name: "web-app" });
      await assert.rejects(
        store.build(queued.id, {
          parent: null,
          layer: {
            kind: "release",
            release: { id, version: "1.0.0" },
            download: () => Promise.reject(new Error("the builder fetches it")),
            fetchGrant: () => ({ url, token: "grant" }),
          },
        }),
        (err: Error & { code?: string; output?: string }) => {
          assert.equal(err.code, "hook_failed");
          assert.match(
            err.message,
            new RegExp(`checksum mismatch for release ${id} \\(got sha256:`),
          );
          assert.match(err.output ?? "", /strata-bake: failed: checksum mismatch/);
          return true;
        },
      );
      assert.equal(standIn.ran.length, 1);
      assert.deepEqual(await readdir(root), [], "nothing unpacked");
      assert.equal((await store.get(queued.id))?.state, "killed");
      const builders = await client.list<NovaServer>("compute", "/servers/detail", "servers", {
        tags: `strata,strata:builder=${queued.id}`,
      });
      assert.deepEqual(
        builders.filter((s) => s.status !== "DELETED"),
        [],
      );
    } finally {
      await standIn.stop();
      await new Promise((resolve) => http.close(resolve));
      await removeAll(store);
    }
  });
});
