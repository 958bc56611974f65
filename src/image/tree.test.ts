import assert from "node:assert/strict";
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cloneTree, cloneTreeSharing, copyTree, cpCloneArgv, hasGnuCp, treeSize } from "./tree.js";

describe("tree copies", () => {
  let work = "";
  let src = "";
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-tree-"));
    src = join(work, "src");
    await mkdir(join(src, "bin"), { recursive: true });
    await mkdir(join(src, "locked"), { mode: 0o555 });
    await writeFile(join(src, "bin", "run"), "#!/bin/sh\n");
    await chmod(join(src, "bin", "run"), 0o750);
    await writeFile(join(src, "data.txt"), "0123456789");
    await link(join(src, "data.txt"), join(src, "data-link.txt"));
    await symlink("bin/run", join(src, "run"));
    await chmod(join(src, "locked"), 0o555);
  });
  after(async () => {
    await chmod(join(src, "locked"), 0o755);
    await rm(work, { recursive: true, force: true });
  });

  test("GNU cp argv: archive mode, reflinks when possible, the folder's content", () => {
    assert.deepEqual(cpCloneArgv("/img/root", "/srv/web-1"), [
      "cp",
      "-a",
      "--reflink=auto",
      "--",
      "/img/root/.",
      "/srv/web-1",
    ]);
  });

  const variants: [string, (dest: string) => Promise<unknown>][] = [
    ["copyTree", (dest) => copyTree(src, dest)],
    ["cloneTree in-process", (dest) => cloneTree(src, dest, { gnuCp: false })],
    ["cloneTree with GNU cp", (dest) => cloneTree(src, dest, { gnuCp: true })],
  ];
  for (const [name, copy] of variants) {
    test(`${name} keeps modes and symlinks and shares no inode with the source`, async (t) => {
      if (name.includes("GNU") && !(await hasGnuCp()))
        return t.skip("cp here is not GNU coreutils");
      const dest = join(work, name.replace(/ /g, "-"));
      await copy(dest);
      assert.equal((await stat(join(dest, "bin", "run"))).mode & 0o777, 0o750);
      assert.equal((await stat(join(dest, "locked"))).mode & 0o777, 0o555);
      assert.equal(await readlink(join(dest, "run")), "bin/run");
      assert.equal(await readFile(join(dest, "data-link.txt"), "utf8"), "0123456789");
      for (const file of ["data.txt", "data-link.txt", "bin/run"]) {
        assert.notEqual(
          (await lstat(join(dest, file))).ino,
          (await lstat(join(src, file))).ino,
          file,
        );
      }
      await writeFile(join(dest, "data.txt"), "changed");
      assert.equal(await readFile(join(src, "data.txt"), "utf8"), "0123456789");
      await chmod(join(dest, "locked"), 0o755);
    });
  }

  test("copyTree skips excluded entries", async () => {
    const dest = join(work, "excluded");
    await copyTree(src, dest, { exclude: (rel) => rel === "bin" || rel === "data.txt" });
    await assert.rejects(lstat(join(dest, "bin")), { code: "ENOENT" });
    await assert.rejects(lstat(join(dest, "data.txt")), { code: "ENOENT" });
    assert.equal(await readFile(join(dest, "data-link.txt"), "utf8"), "0123456789");
    await chmod(join(dest, "locked"), 0o755);
  });

  test("cloneTreeSharing links only the files it is told to share and copies the rest with their modes", async () => {
    const dest = join(work, "sharing");
    const shared = await stat(join(src, "data.txt"));
    const result = await cloneTreeSharing(src, dest, {
      share: (s) => s.ino === shared.ino,
    });
    assert.deepEqual(
      result,
      { linked: 2, copied: 1 },
      "data.txt and its link shared, bin/run copied",
    );
    assert.equal((await stat(join(dest, "data-link.txt"))).ino, shared.ino);
    const run = await stat(join(dest, "bin", "run"));
    assert.notEqual(run.ino, (await stat(join(src, "bin", "run"))).ino);
    assert.equal(run.mode & 0o777, 0o750);
    assert.equal(await readlink(join(dest, "run")), "bin/run");
    assert.equal(
      (await stat(join(dest, "locked"))).mode & 0o777,
      0o555,
      "a read-only folder stays so",
    );
    await chmod(join(dest, "locked"), 0o755);
  });

  test("treeSize adds file sizes and symlink lengths, a file linked twice counted once (an app layer's release files are links to its store)", async () => {
    assert.equal(await treeSize(src), 10 + "#!/bin/sh\n".length + "bin/run".length);
  });
});
