import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFile, lstat, mkdtemp, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createFileStore } from "./file-store.js";
import { encodeManifest, parseManifest, type ManifestEntry } from "./manifest.js";
import { materialise } from "./materialise.js";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-cas-materialise-"));
});
after(() => rm(work, { recursive: true, force: true }));

const sha = (data: string) => createHash("sha256").update(data).digest("hex");

function release(files: Record<string, string>): { entries: ManifestEntry[]; manifest: Buffer } {
  const entries: ManifestEntry[] = [{ kind: "directory", path: "lib" }];
  for (const [path, text] of Object.entries(files)) {
    entries.push({ kind: "file", path, mode: 0o644, size: text.length, sha256: sha(text) });
  }
  entries.push({ kind: "symlink", path: "current", target: "lib" });
  const manifest = encodeManifest(entries);
  return { entries: parseManifest(manifest, { maxBytes: 1e6, maxEntries: 100 }), manifest };
}

describe("materialise", () => {
  test("copies: a release writing into its own file changes neither the store nor another release", async () => {
    const root = join(work, "copy");
    const store = createFileStore(root);
    for (const text of ["shared\n", "one\n"]) store.write(sha(text), 0o644, Buffer.from(text));
    const a = join(root, "releases", "a");
    const b = join(root, "releases", "b");
    const files = { "lib/shared.txt": "shared\n", "one.txt": "one\n" };
    await materialise({ store, ...release(files), dest: a, files: "copy" });
    await materialise({ store, ...release(files), dest: b, files: "copy" });
    assert.equal(await readlink(join(a, "current")), "lib");

    await appendFile(join(a, "lib/shared.txt"), "written by the app\n");
    assert.equal(await readFile(join(b, "lib/shared.txt"), "utf8"), "shared\n");
    assert.equal(await readFile(store.path(sha("shared\n"), 0o644), "utf8"), "shared\n");
    assert.equal((await lstat(join(b, "lib/shared.txt"))).mode & 0o777, 0o644);
  });

  test("links: one read-only inode per content; the store collects what no release names", async () => {
    const root = join(work, "link");
    const store = createFileStore(root);
    store.write(sha("x\n"), 0o644, Buffer.from("x\n"));
    store.write(sha("old\n"), 0o644, Buffer.from("old\n"));
    const built = release({ "lib/x.txt": "x\n" });
    const dest = join(root, "releases", "sha256-" + "c".repeat(64));
    const made = await materialise({ store, ...built, dest, files: "link" });
    assert.deepEqual([made.linked, made.copied], [1, 0]);
    const stats = await lstat(join(dest, "lib/x.txt"));
    assert.equal(stats.ino, (await lstat(store.path(sha("x\n"), 0o644))).ino);
    assert.equal(stats.mode & 0o777, 0o444);

    await store.keepManifest("c".repeat(64), built.manifest);
    const usage = await store.collect(new Set(["c".repeat(64)]));
    assert.deepEqual(usage, { bytes: 2, blobs: 1 });
    assert.equal(store.has(sha("old\n"), 0o644), false);
    assert.equal(
      (await store.collect(new Set())).blobs,
      0,
      "nothing kept once the release is gone",
    );
  });

  test("refuses a destination that exists, leaving it alone", async () => {
    const root = join(work, "exists");
    const store = createFileStore(root);
    store.write(sha("x\n"), 0o644, Buffer.from("x\n"));
    const dest = join(root, "releases", "a");
    await materialise({ store, ...release({ "lib/x.txt": "x\n" }), dest, files: "copy" });
    await assert.rejects(
      materialise({ store, ...release({ "lib/x.txt": "x\n" }), dest, files: "copy" }),
      { code: "conflict" },
    );
  });
});
