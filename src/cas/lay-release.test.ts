import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  appendFile,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { packDirectory } from "../artifact/pack.js";
import { releaseDir } from "../lib/server-root.js";
import { createFileStore } from "./file-store.js";
import { layRelease } from "./lay-release.js";
import { MANIFEST_FILE } from "./manifest.js";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-cas-lay-"));
});
after(() => rm(work, { recursive: true, force: true }));

async function app(name: string): Promise<string> {
  const dir = join(work, name);
  await mkdir(join(dir, "lib"), { recursive: true });
  await writeFile(join(dir, "strata.yaml"), "start: node server.js\nport: 8080\n");
  await writeFile(join(dir, "lib", "a.txt"), "same\n");
  await writeFile(join(dir, "b.txt"), "same\n");
  await writeFile(join(dir, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  return dir;
}

describe("layRelease", () => {
  test("fills the store and materialises the release from it; the release's files are its own copies", async () => {
    const packed = await packDirectory(await app("one"), join(work, "one.tar.gz"));
    const root = join(work, "root-one");
    const laid = await layRelease({ root, releaseId: packed.id, tarball: packed.file });
    assert.deepEqual(laid, { files: 4, bytes: 5 + 5 + 10 + 33, stored: true });
    const dir = releaseDir(root, packed.id);
    assert.equal(await readFile(join(dir, "lib", "a.txt"), "utf8"), "same\n");
    assert.ok(((await stat(join(dir, "run.sh"))).mode & 0o111) !== 0, "the exec bit is kept");
    assert.ok((await readFile(join(dir, MANIFEST_FILE))).length > 0);
    const hex = packed.id.replace("sha256:", "");
    assert.deepEqual(await readdir(join(root, "store", "manifests")), [hex]);
    // The agent's own collection keeps every blob the release names.
    const usage = await createFileStore(root).collect(new Set([hex]));
    assert.equal(usage.blobs, 3, "one blob per distinct content and exec bit");
    // Nothing of the scratch extraction is left.
    assert.deepEqual(await readdir(join(root, "tmp")), []);

    await appendFile(join(dir, "b.txt"), "written by the app\n");
    const store = createFileStore(root);
    const sha = spawnSync("sha256sum", [join(dir, "lib", "a.txt")], { encoding: "utf8" });
    const blob = store.path(sha.stdout.split(" ")[0]!, 0o644);
    assert.equal(
      await readFile(blob, "utf8"),
      "same\n",
      "a write in the release never reaches the store",
    );
    assert.equal(await readFile(join(dir, "lib", "a.txt"), "utf8"), "same\n");
  });

  test("a tarball without a manifest (an older strata build) is only extracted", async () => {
    const dir = await app("plain");
    const tarball = join(work, "plain.tar.gz");
    spawnSync("tar", ["-czf", tarball, "-C", dir, "."]);
    const root = join(work, "root-plain");
    const id = `sha256:${"a".repeat(64)}`;
    const laid = await layRelease({ root, releaseId: id, tarball });
    assert.equal(laid.stored, false);
    assert.equal(await readFile(join(releaseDir(root, id), "b.txt"), "utf8"), "same\n");
  });
});
