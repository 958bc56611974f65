import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { packDirectory } from "../../artifact/pack.js";
import { releaseDirName } from "../../lib/server-root.js";
import { runCliBatch } from "../capture.js";
import { EXIT } from "../exit-codes.js";

let dir = "";
before(async () => (dir = await mkdtemp(join(tmpdir(), "strata-lay-release-"))));
after(() => rm(dir, { recursive: true, force: true }));

test("strata agent lay-release lays a tarball into a root's file store, and refuses one that does not hash to the release id", async () => {
  const app = join(dir, "app");
  await mkdir(join(app, "assets"), { recursive: true });
  await writeFile(join(app, "server.js"), "console.log('hi')\n");
  await writeFile(join(app, "assets", "a.bin"), randomBytes(10_000));
  await writeFile(join(app, "assets", "same.bin"), await readFile(join(app, "assets", "a.bin")));
  const packed = await packDirectory(app, join(dir, "release.tar.gz"));
  const root = join(dir, "root");
  const other = `sha256:${"cd".repeat(32)}`;
  const lay = (release: string, ...rest: string[]) => [
    ...["agent", "lay-release", "--root", root, "--release", release, "--version", "1.0.0"],
    ...["--tarball", packed.file, ...rest],
  ];
  const [laid, mismatch, badId, help] = await runCliBatch([
    { args: lay(packed.id, "--json") },
    { args: lay(other) },
    { args: lay("sha256:nope") },
    { args: ["agent", "lay-release", "--help"] },
  ]);
  assert.equal(laid!.code, EXIT.OK, laid!.stderr);
  const report = JSON.parse(laid!.stdout) as Record<string, unknown>;
  assert.deepEqual(report, { release: packed.id, files: 3, bytes: 20_018, stored: true });
  const hex = packed.id.slice("sha256:".length);
  assert.deepEqual(await readdir(join(root, "store", "manifests")), [hex]);
  const release = join(root, "releases", releaseDirName(packed.id));
  const [a, same] = [
    await stat(join(release, "assets", "a.bin")),
    await stat(join(release, "assets", "same.bin")),
  ];
  assert.equal(a.ino, same.ino, "one blob for one content: both files link to it");
  assert.equal(a.nlink, 3);
  assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(packed.id)}`);
  const activations = JSON.parse(await readFile(join(root, "activations.json"), "utf8"));
  assert.equal(activations[packed.id]?.version, "1.0.0");

  assert.equal(mismatch!.code, EXIT.FAILED);
  assert.match(
    mismatch!.stderr,
    new RegExp(`checksum mismatch for release ${other} \\(got ${packed.id}\\)`),
  );
  assert.deepEqual(
    await readdir(join(root, "releases")),
    [releaseDirName(packed.id)],
    "nothing laid",
  );
  assert.equal(badId!.code, EXIT.USAGE);
  assert.match(badId!.stderr, /--release: expected sha256:<64 hex>, got "sha256:nope"/);
  // What a builder probes for (the agent command turns its own help off).
  assert.equal(help!.code, EXIT.OK, help!.stderr);
  assert.match(help!.stdout, /Usage: strata agent lay-release/);
});
