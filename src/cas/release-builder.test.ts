import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstat, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { localArtifactPath } from "../artifact/local/local-store.js";
import { releaseDirName } from "../lib/server-root.js";
import { createHash, randomBytes } from "node:crypto";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  startTestPlane,
  status,
  variantOf,
  waitFor,
  type TestPlane,
} from "../../test/e2e/harness.js";
import { MANIFEST_FILE } from "./manifest.js";

/**
 * What the builder said about `release` in the agent's log: the deployment
 * staged it before the switch, so its fetch and extract steps went with the
 * `staged` report, not into the deployment's steps.
 */
async function built(root: string, release: string): Promise<{ fetch: string; extract: string }> {
  // The agent logs JSON lines; `[cas] ` becomes the component.
  const lines = (await readFile(join(root, "agent.log"), "utf8"))
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { component?: string; msg?: string })
    .filter((line) => line.component === "cas" && line.msg?.startsWith(`${release}: `))
    .map((line) => line.msg!.slice(release.length + 2));
  return {
    fetch: lines.find((line) => / fetched, |whole tarball/.test(line)) ?? "",
    extract: lines.find((line) => /from the store|joining the store/.test(line)) ?? "",
  };
}

describe(
  "releases built from the server's file store (control plane + a real agent)",
  {
    timeout: 300_000,
  },
  () => {
    let t: TestPlane;
    let root: string;
    const ids: string[] = [];

    before(async () => {
      t = await startTestPlane({ apiPrefix: "127.81.11", serverPrefix: "127.81.12" });
      await t.client.post("/v1/fleet/up", { group: "web", count: 1 });
      const s = await waitFor("the agent to join", async () => {
        const view = await status(t.client);
        return view.servers.every((x) => x.last_heartbeat) ? view : null;
      });
      root = join(t.plane.dataDir, "servers", s.servers[0]!.name);
    });
    after(async () => {
      await t?.close();
    });

    test("a first deploy, with nothing in the store, fetches the tarball and adds its files to the store", async () => {
      ids.push((await build(t.client, await variantOf(t.dir, {}), "1.0.0")).id);
      const d = await deployAndWait(t.client, { version: "1.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const steps = await built(root, ids[0]!);
      assert.match(steps.fetch, /whole tarball: the store lacks 100% of the release/);
      assert.match(steps.extract, /extracted while fetching, joining the store after the deploy/);
      const dir = join(root, "releases", releaseDirName(ids[0]!));
      assert.ok(
        (await readFile(join(dir, MANIFEST_FILE), "utf8")).startsWith("strata-manifest-v1"),
      );
      // Its files join the store once the deploy has converged, off its path.
      const file = await waitFor("the release's files to join the store", async () => {
        const info = await lstat(join(dir, "server.js"));
        return info.nlink === 2 ? info : null;
      });
      assert.equal(file.mode & 0o777, 0o444, "the release's file is the store's read-only blob");
    });

    test("an everyday deploy fetches only the changed file", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "version two\n" });
      ids.push((await build(t.client, dir, "2.0.0")).id);
      const d = await deployAndWait(t.client, { version: "2.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      assert.match((await built(root, ids[1]!)).fetch, /^1 of \d+ distinct files fetched/);
      const beat = await waitFor("a heartbeat with the store's size", async () => {
        const server = (await status(t.client)).servers[0] as { store_bytes?: number | null };
        return server.store_bytes ? server.store_bytes : null;
      });
      assert.ok(beat > 0);
    });

    test("a release writing into its own file changes neither the store nor another release", async () => {
      const [v1, v2] = ids.map((id) => join(root, "releases", releaseDirName(id)));
      const shared = "server.js";
      const before = await readFile(join(v1!, shared));
      const [a, b] = [await lstat(join(v1!, shared)), await lstat(join(v2!, shared))];
      assert.equal(a.ino, b.ino, "unchanged files are one read-only blob");
      assert.equal(a.mode & 0o222, 0, "and no one may write it");
      assert.equal(a.uid, 0, "owned by the agent, not the app's account");

      // The app's account cannot write the blob in place...
      const appUser = (await readFile("/etc/passwd", "utf8"))
        .split("\n")
        .map((line) => line.split(":"))
        .find(([name]) => name === "strata-app");
      assert.ok(appUser, "the agent runs apps as strata-app");
      const write = spawnSync(
        "/bin/sh",
        ["-c", `echo changed >> ${JSON.stringify(join(v2!, shared))}`],
        {
          uid: Number(appUser[2]),
          gid: Number(appUser[3]),
        },
      );
      assert.notEqual(write.status, 0, "writing into a linked blob is refused");
      // ...but may replace the file in its own folder, which it owns.
      const replace = spawnSync(
        "/bin/sh",
        ["-c", `cd ${JSON.stringify(v2!)} && echo mine > .new && mv -f .new ${shared}`],
        { uid: Number(appUser[2]), gid: Number(appUser[3]) },
      );
      assert.equal(replace.status, 0, replace.stderr.toString());
      assert.equal(await readFile(join(v2!, shared), "utf8"), "mine\n");
      assert.deepEqual(await readFile(join(v1!, shared)), before, "the other release is unchanged");
      const blobs = await readdir(join(root, "store", "blobs"), { recursive: true });
      assert.ok(blobs.length > 0);
      assert.equal((await lstat(join(v1!, shared))).nlink, 2, "the store and v1 still share it");
    });

    test("the store drops what no release on disk names", async () => {
      // Simulate pruning: v1's folder goes; the next build collects its blobs.
      const v1 = join(root, "releases", releaseDirName(ids[0]!));
      await rename(v1, join(root, "gone"));
      const dir = await variantOf(t.dir, { "message.txt": "version three\n" });
      await writeFile(join(dir, "extra.txt"), "three\n");
      const v3 = await build(t.client, dir, "3.0.0");
      const d = await deployAndWait(t.client, { version: "3.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      // The store is collected after the build, off the deploy's path.
      await waitFor("v1's manifest to leave the store", async () =>
        (await readdir(join(root, "store", "manifests"))).includes(ids[0]!.slice(7)) ? null : true,
      );
      const message = await readFile(join(EXAMPLE_APP, "message.txt"));
      const hex = createHash("sha256").update(message).digest("hex");
      await assert.rejects(lstat(join(root, "store", "blobs", hex.slice(0, 2), hex)), {
        code: "ENOENT",
      });
      assert.match((await built(root, v3.id)).fetch, /^2 of \d+ distinct files fetched/);
      // The upkeep says when it is done, and what the store keeps (the bench waits on it).
      const said = await waitFor("the store's upkeep to finish", async () => {
        const log = await readFile(join(root, "agent.log"), "utf8");
        return [...log.matchAll(/store upkeep done: (\d+) blobs, \d+ bytes kept/g)].at(-1);
      });
      const blobCount = (await readdir(join(root, "store", "blobs"), { recursive: true })).filter(
        (name) => name.includes("/"),
      ).length;
      assert.equal(Number(said[1]), blobCount, said[0]);
    });

    test("a full deploy whose tarball is corrupt leaves no release and keeps the working one", async () => {
      const before = (await status(t.client)).servers[0]!.version;
      // Mostly new content: the agent streams the tarball instead of asking for a pack.
      const dir = await variantOf(t.dir, { "big.txt": randomBytes(512 * 1024).toString("hex") });
      const bad = await build(t.client, dir, "3.5.0");
      const tarball = localArtifactPath(join(t.plane.dataDir, "artifacts"), bad.id);
      const bytes = await readFile(tarball);
      bytes[bytes.length - 5]! ^= 0xff; // inside the gzip trailer: the data reads, the checksum fails
      await writeFile(tarball, bytes);
      const d = await deployAndWait(t.client, { version: "3.5.0" });
      assert.equal(d.state, "failed");
      await assert.rejects(lstat(join(root, "releases", releaseDirName(bad.id))), {
        code: "ENOENT",
      });
      const hidden = (await readdir(join(root, "releases"))).filter((n) => n.startsWith("."));
      assert.deepEqual(hidden, [], "no partial extraction left");
      assert.equal((await status(t.client)).servers[0]!.version, before);
    });

    test("a release without a file manifest is fetched and extracted whole, as before", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "version four\n" });
      const v4 = await build(t.client, dir, "4.0.0");
      // As a release uploaded by an older strata: no manifest beside the tarball.
      const tarball = localArtifactPath(join(t.plane.dataDir, "artifacts"), v4.id);
      await rm(tarball.replace(/\.tar\.gz$/, ".manifest"));
      const d = await deployAndWait(t.client, { version: "4.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const served = await readFile(join(root, "releases", releaseDirName(v4.id), "message.txt"));
      assert.equal(served.toString(), "version four\n");
      assert.equal((await built(root, v4.id)).fetch, "", "not built from the store");
    });
  },
);
