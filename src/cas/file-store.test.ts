import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createFileStore } from "./file-store.js";

const sha = (data: string) => createHash("sha256").update(data).digest("hex");

describe("FileStore.adopt: a release's extracted files join the store, checked", () => {
  let root: string;
  let release: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "strata-file-store-"));
    release = join(root, "releases", "r1");
    await mkdir(release, { recursive: true });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("a file holding its sha256 becomes the store's read-only blob (link: one inode)", async () => {
    const store = createFileStore(root);
    await writeFile(join(release, "a.js"), "alpha\n");
    assert.equal(store.adopt(sha("alpha\n"), 0o644, join(release, "a.js"), "link"), true);
    const blob = await lstat(store.path(sha("alpha\n"), 0o644));
    const file = await lstat(join(release, "a.js"));
    assert.equal(blob.ino, file.ino);
    assert.equal(blob.mode & 0o777, 0o444);
    assert.equal(store.has(sha("alpha\n"), 0o644), true);
    assert.equal(store.adopt(sha("alpha\n"), 0o644, join(release, "a.js"), "link"), true);
  });

  test("copy: the store gets its own read-only inode; the release's file keeps its mode", async () => {
    const store = createFileStore(root);
    await writeFile(join(release, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(store.adopt(sha("#!/bin/sh\n"), 0o755, join(release, "run.sh"), "copy"), true);
    const blob = await lstat(store.path(sha("#!/bin/sh\n"), 0o755));
    const file = await lstat(join(release, "run.sh"));
    assert.notEqual(blob.ino, file.ino);
    assert.equal(blob.mode & 0o777, 0o555);
    assert.equal(file.mode & 0o777, 0o755);
  });

  // Regression: the files of a release extracted whole join the store after the
  // deploy, when the app may already have replaced one of them in its folder.
  test("a file changed, replaced by a symlink or a folder, or gone since the extraction stays out", async () => {
    const store = createFileStore(root);
    await writeFile(join(release, "b.js"), "changed by the app\n");
    assert.equal(store.adopt(sha("beta\n"), 0o644, join(release, "b.js"), "link"), false);
    await writeFile(join(root, "secret"), "gamma\n");
    await symlink(join(root, "secret"), join(release, "c.js"));
    assert.equal(store.adopt(sha("gamma\n"), 0o644, join(release, "c.js"), "link"), false);
    // (A copy follows the symlink, but only the content checked would enter the store.)
    assert.equal(store.adopt(sha("beta\n"), 0o644, join(release, "c.js"), "copy"), false);
    await mkdir(join(release, "d.js"));
    assert.equal(store.adopt(sha("delta\n"), 0o644, join(release, "d.js"), "link"), false);
    assert.equal(store.adopt(sha("eps\n"), 0o644, join(release, "gone.js"), "link"), false);
    for (const content of ["beta\n", "gamma\n", "delta\n", "eps\n"]) {
      assert.equal(store.has(sha(content), 0o644), false);
      await assert.rejects(lstat(store.path(sha(content), 0o644)), { code: "ENOENT" });
    }
    assert.equal((await lstat(join(release, "b.js"))).nlink, 1, "nothing of it left in the store");
    assert.equal(await readFile(join(root, "secret"), "utf8"), "gamma\n");
  });
});
