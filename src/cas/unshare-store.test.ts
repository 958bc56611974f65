import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { packDirectory } from "../artifact/pack.js";
import { releaseDir } from "../lib/server-root.js";
import { createFileStore } from "./file-store.js";
import { layRelease } from "./lay-release.js";
import { unshareStore } from "./unshare-store.js";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-cas-unshare-"));
});
after(() => rm(work, { recursive: true, force: true }));

describe("unshareStore", () => {
  test("gives linked blobs their own inode, and drops one a release file wrote through", async () => {
    const app = join(work, "app");
    await mkdir(app);
    await writeFile(join(app, "strata.yaml"), "start: node server.js\nport: 8080\n");
    await writeFile(join(app, "kept.txt"), "kept\n");
    await writeFile(join(app, "written.txt"), "original\n");
    const packed = await packDirectory(app, join(work, "app.tar.gz"));
    const root = join(work, "root");
    await layRelease({ root, releaseId: packed.id, tarball: packed.file, files: "link" });
    const dir = releaseDir(root, packed.id);
    assert.equal((await stat(join(dir, "kept.txt"))).nlink, 2, "laid as links");
    // An app running as the file's owner can make a linked file writable and write it.
    await chmod(join(dir, "written.txt"), 0o644);
    await writeFile(join(dir, "written.txt"), "changed by the app\n");

    assert.deepEqual(await unshareStore(root), { unshared: 2, dropped: 1 });
    assert.equal((await stat(join(dir, "kept.txt"))).nlink, 1, "the release file is its own");
    const store = createFileStore(root);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const kept = store.path(sha("kept\n"), 0o644);
    assert.equal(await readFile(kept, "utf8"), "kept\n");
    assert.equal((await stat(kept)).mode & 0o777, 0o444);
    assert.equal(store.has(sha("original\n"), 0o644), false, "the written blob is gone");
    assert.deepEqual(await unshareStore(root), { unshared: 0, dropped: 0 }, "idempotent");
  });
});
