import assert from "node:assert/strict";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  open,
  readFile,
  readdir,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readActivations, readCurrent, releaseDir } from "../../lib/server-root.js";
import { packDirectory } from "../../artifact/pack.js";
import { runImageStoreContract } from "../image-store.contract.js";
import type { ReleaseLayer } from "../image-store.js";
import { hasGnuCp } from "../tree.js";
import { createLocalImageStore, type LocalImageStore } from "./local-image-store.js";

const GNU_CP = await hasGnuCp();
for (const gnuCp of [false, true]) {
  const name = `ImageStore contract: local (${gnuCp ? "GNU cp" : "in-process copy"})`;
  if (gnuCp && !GNU_CP) {
    test(name, { skip: "cp here is not GNU coreutils" }, () => undefined);
    continue;
  }
  runImageStoreContract({
    name,
    create: async () => {
      const dir = await mkdtemp(join(tmpdir(), "strata-images-"));
      return {
        store: createLocalImageStore({ dir, gnuCp }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      };
    },
  });
}

for (const gnuCp of GNU_CP ? [false, true] : [false]) {
  describe(`local image store (${gnuCp ? "GNU cp" : "in-process copy"})`, () => {
    let work = "";
    let store: LocalImageStore;
    let recipeDir = "";
    let releaseId = "";
    let tarball = "";
    const release = (): ReleaseLayer => ({
      kind: "release",
      release: { id: releaseId, version: "2.1.0" },
      download: (dest) => copyFile(tarball, dest),
    });
    const rootOf = (id: string) => join(work, "images", id, "root");

    before(async () => {
      work = await mkdtemp(join(tmpdir(), "strata-local-images-"));
      store = createLocalImageStore({ dir: join(work, "images"), gnuCp });
      recipeDir = join(work, "recipe");
      await mkdir(join(recipeDir, "etc"), { recursive: true });
      await writeFile(join(recipeDir, "etc", "nginx.conf"), "worker_processes 1;\n");
      await writeFile(join(recipeDir, "bin-tool"), "#!/bin/sh\necho tool\n");
      await chmod(join(recipeDir, "bin-tool"), 0o755);
      await writeFile(
        join(recipeDir, "provision.sh"),
        'pwd > provisioned-in.txt\necho "$STRATA_TEST_VALUE" > env.txt\n',
      );
      await mkdir(join(work, "app"));
      await writeFile(join(work, "app", "strata.yaml"), "start: node server.js\n");
      await writeFile(join(work, "app", "data.txt"), "original\n");
      const packed = await packDirectory(join(work, "app"), join(work, "release.tar.gz"));
      releaseId = packed.id;
      tarball = packed.file;
    });
    after(() => rm(work, { recursive: true, force: true }));

    async function middleware(): Promise<string> {
      const image = await store.create({ name: "web-mw" });
      await store.build(image.id, {
        parent: null,
        layer: {
          kind: "recipe",
          dir: recipeDir,
          timeoutMs: 10_000,
          env: { STRATA_TEST_VALUE: "from-env" },
        },
      });
      return image.id;
    }

    test("a recipe copies its files (modes kept, provision.sh left out) and runs provision.sh in the new root", async () => {
      const id = await middleware();
      const root = rootOf(id);
      assert.equal(
        await readFile(join(root, "etc", "nginx.conf"), "utf8"),
        "worker_processes 1;\n",
      );
      assert.equal((await stat(join(root, "bin-tool"))).mode & 0o777, 0o755);
      assert.equal(await readFile(join(root, "provisioned-in.txt"), "utf8"), `${root}.partial\n`);
      assert.equal(await readFile(join(root, "env.txt"), "utf8"), "from-env\n");
      assert.deepEqual((await readdir(root)).includes("provision.sh"), false);
    });

    test("a release layer lays the root out as the agent would: releases/<dir>, current, activations", async () => {
      const parent = await middleware();
      const app = await store.create({ name: "web-app" });
      await store.build(app.id, { parent, layer: release() });
      const root = rootOf(app.id);
      assert.equal(await readCurrent(root), releaseId);
      assert.equal((await readActivations(root))[releaseId]?.version, "2.1.0");
      assert.equal(
        await readFile(join(releaseDir(root, releaseId), "data.txt"), "utf8"),
        "original\n",
      );
      assert.equal(
        await readFile(join(root, "etc", "nginx.conf"), "utf8"),
        "worker_processes 1;\n",
      );
      assert.deepEqual(
        (await readdir(rootOf(parent))).includes("releases"),
        false,
        "the parent stays as it was",
      );
      assert.deepEqual((await readdir(join(work, "images", app.id))).sort(), [
        "image.json",
        "root",
      ]);
    });

    test("a server's writes never reach the image or another server launched from it", async () => {
      const app = await store.create({ name: "web-app" });
      await store.build(app.id, { parent: await middleware(), layer: release() });
      const a = join(work, "servers", "web-1");
      const b = join(work, "servers", "web-2");
      await mkdir(a, { recursive: true });
      const cloned = await store.cloneRoot(app.id, a);
      await store.cloneRoot(app.id, b);
      assert.equal(cloned.method, await store.copyMethod());

      const fileIn = (root: string) => join(releaseDir(root, releaseId), "data.txt");
      assert.notEqual(
        (await stat(fileIn(a))).ino,
        (await stat(fileIn(rootOf(app.id)))).ino,
        "no shared inode",
      );
      // In place, as an app rewriting its own file would: same inode, no rename.
      const handle = await open(fileIn(a), "r+");
      await handle.write("CHANGED!\n", 0);
      await handle.close();
      await writeFile(join(a, "etc", "nginx.conf"), "changed\n");
      await rm(join(a, "bin-tool"));

      assert.equal(await readFile(fileIn(a), "utf8"), "CHANGED!\n");
      for (const root of [rootOf(app.id), b]) {
        assert.equal(await readFile(fileIn(root), "utf8"), "original\n");
        assert.equal(
          await readFile(join(root, "etc", "nginx.conf"), "utf8"),
          "worker_processes 1;\n",
        );
        assert.equal((await stat(join(root, "bin-tool"))).isFile(), true);
      }
    });

    test("shareBlobs: a server root links the image's read-only blobs and copies the rest as cp -a would", async () => {
      const app = await store.create({ name: "web-app" });
      await store.build(app.id, { parent: await middleware(), layer: release() });
      const image = rootOf(app.id);
      const a = join(work, "servers", "web-shared");
      const cloned = await store.cloneRoot(app.id, a, { shareBlobs: true });
      assert.ok(cloned.linked >= 2, `blob and release file linked: ${cloned.linked}`);

      const fileIn = (root: string) => join(releaseDir(root, releaseId), "data.txt");
      const shared = await stat(fileIn(a));
      assert.equal(
        shared.ino,
        (await stat(fileIn(image))).ino,
        "the release file is the image's blob",
      );
      // What keeps a shared blob safe: read-only, and the agent's (root's here), not the app account's.
      assert.equal(shared.mode & 0o222, 0, "no write bit");
      assert.equal(shared.uid, process.getuid!());
      assert.equal(await readFile(fileIn(a), "utf8"), "original\n");
      if (process.getuid?.() === 0) {
        // As an app's account would try it: neither a write in place nor a chmod gets through.
        await chmod(work, 0o711);
        const as = (script: string) =>
          spawnSync("/bin/sh", ["-c", script, "sh", fileIn(a)], { uid: 65534, gid: 65534 });
        assert.equal(as('cd "$(dirname "$1")"').status, 0, "the account reaches the release");
        assert.notEqual(as('printf CHANGED > "$1"').status, 0, "no write in place");
        assert.notEqual(as('chmod u+w "$1"').status, 0, "no chmod");
        assert.equal(await readFile(fileIn(image), "utf8"), "original\n");
      }

      // Everything else is a copy of its own, with its mode and times.
      for (const rel of ["etc/nginx.conf", "bin-tool", "etc"]) {
        const [mine, theirs] = await Promise.all([stat(join(a, rel)), stat(join(image, rel))]);
        assert.notEqual(mine.ino, theirs.ino, rel);
        assert.equal(mine.mode, theirs.mode, `${rel}: mode`);
        // Kept to the microsecond (utimes takes seconds as a double).
        assert.ok(Math.abs(mine.mtimeMs - theirs.mtimeMs) < 0.01, `${rel}: mtime`);
      }
      assert.equal(await readCurrent(a), releaseId);
      await writeFile(join(a, "etc", "nginx.conf"), "changed\n");
      assert.equal(
        await readFile(join(image, "etc", "nginx.conf"), "utf8"),
        "worker_processes 1;\n",
      );

      // The agent's store only ever unlinks or renames over a blob: the image keeps its own.
      await rm(join(a, "store"), { recursive: true, force: true });
      await rm(releaseDir(a, releaseId), { recursive: true, force: true });
      assert.equal(await readFile(fileIn(image), "utf8"), "original\n");
      const again = join(work, "servers", "web-shared-2");
      await store.cloneRoot(app.id, again, { shareBlobs: true });
      assert.equal(await readFile(fileIn(again), "utf8"), "original\n");
    });

    test("cloneRoot refuses an image that is not active", async () => {
      const queued = await store.create({ name: "web-app" });
      await assert.rejects(store.cloneRoot(queued.id, join(work, "servers", "x")), {
        code: "not_found",
      });
      await assert.rejects(store.cloneRoot("img-000000000000", join(work, "servers", "y")), {
        code: "not_found",
      });
      await assert.rejects(store.cloneRoot("../etc", join(work, "servers", "z")), {
        code: "bad_request",
      });
    });

    test("an aborted build kills the image and leaves no partial root", async () => {
      const image = await store.create({ name: "web-app" });
      const controller = new AbortController();
      const layer: ReleaseLayer = {
        ...release(),
        download: async (_dest, signal) => {
          controller.abort();
          signal.throwIfAborted();
        },
      };
      await assert.rejects(store.build(image.id, { parent: null, layer }, controller.signal), {
        code: "unavailable",
      });
      assert.equal((await store.get(image.id))?.state, "killed");
      assert.deepEqual(await readdir(join(work, "images", image.id)), ["image.json"]);
    });

    test("copyMethod reports what this filesystem does", async () => {
      assert.ok(["reflink", "copy"].includes(await store.copyMethod()));
    });
  });
}
