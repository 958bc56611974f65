import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  pruneReleases,
  readActivations,
  readCurrent,
  releaseDir,
  releaseDirName,
  switchCurrent,
  writeSwitchIntent,
  readSwitchIntent,
  clearSwitchIntent,
} from "./server-root.js";

const idOf = (name: string) => `sha256:${createHash("sha256").update(name).digest("hex")}`;

describe("switch", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "strata-switch-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const addRelease = async (id: string) => {
    await mkdir(releaseDir(root, id), { recursive: true });
    await writeFile(join(releaseDir(root, id), "marker"), id);
  };

  test("release folder names are filesystem-safe and reject non-ids", () => {
    const id = idOf("a");
    assert.equal(releaseDirName(id), id.replace("sha256:", "sha256-"));
    assert.throws(() => releaseDirName("../../etc"), /not a release id/);
    assert.throws(() => releaseDirName("sha256:abc"), /not a release id/);
  });

  test("a switch intent survives as written until cleared; no temp file is left", async () => {
    assert.equal(await readSwitchIntent(root), null);
    const release = { id: idOf("i"), app: "a", version: "1", size: 1, artifact_path: "/x" };
    const intent = { generation: 3, release, previous: null, done: ["after_switch"] };
    await writeSwitchIntent(root, intent);
    assert.deepEqual(await readSwitchIntent(root), intent);
    assert.deepEqual(
      (await readdir(root)).filter((name) => name.includes("switching")),
      ["switching.json"],
      "no temp file left",
    );
    await clearSwitchIntent(root);
    await clearSwitchIntent(root);
    assert.equal(await readSwitchIntent(root), null);
  });

  test("readCurrent is null before the first switch", async () => {
    assert.equal(await readCurrent(root), null);
  });

  test("switchCurrent points current at the release with a relative link", async () => {
    const id = idOf("one");
    await addRelease(id);
    await switchCurrent(root, id, { activated_at: 1000, version: "v1" });
    assert.equal(await readCurrent(root), id);
    assert.equal(await readlink(join(root, "current")), join("releases", releaseDirName(id)));
    assert.deepEqual((await readActivations(root))[id], { activated_at: 1000, version: "v1" });
    assert.ok(!(await readdir(root)).some((name) => name.startsWith(".")), "no temp links left");
  });

  test("readers never see current missing while it switches back and forth", async () => {
    const a = idOf("flip-a");
    const b = idOf("flip-b");
    await addRelease(a);
    await addRelease(b);
    let switching = true;
    let misses = 0;
    const reader = (async () => {
      while (switching) {
        if ((await readCurrent(root)) === null) misses++;
      }
    })();
    for (let i = 0; i < 200; i++) {
      await switchCurrent(root, i % 2 ? a : b, { activated_at: 2000 + i, version: "x" });
    }
    switching = false;
    await reader;
    assert.equal(misses, 0);
    assert.equal(await readCurrent(root), a);
  });

  test("pruneReleases keeps the newest activations and never a protected release", async () => {
    await rm(root, { recursive: true, force: true });
    await mkdir(join(root, "releases"), { recursive: true });
    const ids = ["p1", "p2", "p3", "p4", "p5", "p6"].map(idOf);
    for (const id of ids) await addRelease(id);
    // p1 oldest ... p5 newest; p6 was never activated (failed before its switch)
    for (const [i, id] of ids.slice(0, 5).entries()) {
      await switchCurrent(root, id, { activated_at: 10_000 + i, version: `v${i}` });
    }
    await mkdir(join(root, "releases", ".sha256-dead.partial-1234"));
    const [p1, p2, p3, p4, p5, p6] = ids as [string, string, string, string, string, string];

    // keep 3, and the oldest because it is protected (say, it is being rolled back to)
    const removed = await pruneReleases(root, 3, [p5, p1]);
    assert.deepEqual(new Set(removed), new Set([p2, p6]));
    const left = await readdir(join(root, "releases"));
    assert.deepEqual(new Set(left), new Set([p1, p3, p4, p5].map(releaseDirName)));
    assert.deepEqual(Object.keys(await readActivations(root)).sort(), [p1, p3, p4, p5].sort());

    // protected releases are kept even beyond `keep`
    assert.deepEqual(new Set(await pruneReleases(root, 1, [p5, p1])), new Set([p3, p4]));
    assert.deepEqual(await pruneReleases(root, 1, [p5, null]), [p1]);
    assert.deepEqual(await pruneReleases(root, 1, [null]), []);
    assert.equal(await readCurrent(root), p5);
  });
});
