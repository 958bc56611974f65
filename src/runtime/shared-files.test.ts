import assert from "node:assert/strict";
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAppDefinition } from "../config/app-definition.js";
import { linkShared, sharedPathProblem } from "./shared-files.js";

describe("shared entries", () => {
  const cases: [string, RegExp | null][] = [
    ["log/", null],
    ["tmp/uploads/", null],
    ["config/master.key", null],
    ["/etc/passwd", /relative/],
    ["../outside", /\.\./],
    ["log/../../x", /\.\./],
    ["a//b", /empty/],
    ["./a", /\. segments/],
    ["", /empty/],
    ["/", /relative/],
  ];
  for (const [path, problem] of cases) {
    test(`${JSON.stringify(path)}: ${problem ?? "ok"}`, () => {
      const found = sharedPathProblem(path);
      if (problem === null) assert.equal(found, null);
      else assert.match(found ?? "", problem);
    });
  }

  test("strata.yaml refuses a path outside the release, naming the key", () => {
    const app = parseAppDefinition(
      "start: node server.js\nshared: [log/, config/master.key]\n",
      "t",
    );
    assert.deepEqual(app.shared, ["log/", "config/master.key"]);
    assert.deepEqual(parseAppDefinition("start: x\n", "t").shared, []);
    assert.throws(
      () => parseAppDefinition("start: x\nshared: [log/, ../secrets]\n", "t"),
      /shared\.1.*\.\./s,
    );
    assert.throws(() => parseAppDefinition("start: x\nshared: [/var/log]\n", "t"), /shared\.0/);
    assert.throws(() => parseAppDefinition("start: x\nshared: log/\n", "t"), /shared/);
  });

  test("links entries into each release; what is written there outlives the release", async () => {
    const root = await mkdtemp(join(tmpdir(), "strata-shared-"));
    try {
      const first = join(root, "releases", "one");
      await mkdir(join(first, "config"), { recursive: true });
      await mkdir(join(first, "log"), { recursive: true });
      await writeFile(join(first, "config", "master.key"), "seed\n");
      await writeFile(join(first, "log", "shipped.txt"), "from the artifact\n");
      const entries = ["log/", "tmp/uploads/", "config/master.key"];
      await linkShared(root, first, entries);
      assert.equal(await readlink(join(first, "log")), "../../shared/log");
      assert.equal(
        await readlink(join(first, "config", "master.key")),
        "../../../shared/config/master.key",
      );
      assert.ok((await lstat(join(root, "shared", "tmp", "uploads"))).isDirectory());
      assert.equal(await readFile(join(root, "shared", "config", "master.key"), "utf8"), "seed\n");
      await writeFile(join(first, "log", "app.log"), "line 1\n");
      await linkShared(root, first, entries); // idempotent

      const second = join(root, "releases", "two");
      await mkdir(join(second, "config"), { recursive: true });
      await writeFile(join(second, "config", "master.key"), "a different seed\n");
      await linkShared(root, second, entries);
      assert.equal(await readFile(join(second, "log", "app.log"), "utf8"), "line 1\n");
      assert.equal(
        await readFile(join(second, "config", "master.key"), "utf8"),
        "seed\n",
        "the shared file wins over the release's copy once it exists",
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("refuses a release whose parent folder of an entry is a symbolic link", async () => {
    const root = await mkdtemp(join(tmpdir(), "strata-shared-"));
    try {
      const release = join(root, "releases", "one");
      await mkdir(release, { recursive: true });
      await mkdir(join(root, "elsewhere"));
      await symlink(join(root, "elsewhere"), join(release, "config"));
      await assert.rejects(
        linkShared(root, release, ["config/master.key"]),
        /config in the release is a symbolic link/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
