import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readlink, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { packDirectory } from "../artifact/pack.js";
import { releaseDirName } from "../lib/server-root.js";
import { CURRENT_APP_FILE, readCurrentApp } from "../runtime/current-app.js";
import { installReleaseLayer } from "./release-layer.js";

const EXAMPLE_APP = fileURLToPath(new URL("../../examples/hello", import.meta.url));

let dir = "";
before(async () => (dir = await mkdtemp(join(tmpdir(), "strata-release-layer-"))));
after(() => rm(dir, { recursive: true, force: true }));

async function install(name: string, app: string) {
  const packed = await packDirectory(app, join(dir, `${name}.tar.gz`));
  const root = join(dir, `${name}-root`);
  const release = { id: packed.id, version: "1.0.0" };
  await installReleaseLayer({ root, release, tarball: packed.file, activatedAt: 1 });
  return { root, id: packed.id };
}

test("a release layer keeps the parsed strata.yaml beside current, for the early boot", async () => {
  const { root, id } = await install("hello", EXAMPLE_APP);
  assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(id)}`);
  const app = await readCurrentApp(root, id, "127.0.0.1");
  assert.ok(app, "current-app.json names the release");
  assert.equal(app.version, "1.0.0");
  assert.equal(app.definition.health.path, "/healthz");
  assert.equal(await readCurrentApp(root, `sha256:${"0".repeat(64)}`, "127.0.0.1"), null);
});

test("a release layer without a strata.yaml still installs, with no saved app (the merged save rejected the bake)", async () => {
  const app = join(dir, "bare");
  await mkdir(app, { recursive: true });
  await writeFile(join(app, "server.js"), "// no strata.yaml\n");
  const { root, id } = await install("bare", app);
  assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(id)}`);
  await assert.rejects(stat(join(root, CURRENT_APP_FILE)), { code: "ENOENT" });
});

test("a release layer whose strata.yaml does not parse still installs, with no saved app", async () => {
  const app = join(dir, "broken");
  await cp(EXAMPLE_APP, app, { recursive: true });
  await writeFile(join(app, "strata.yaml"), "health: [not, a, map\n");
  const { root, id } = await install("broken", app);
  assert.equal(await readlink(join(root, "current")), `releases/${releaseDirName(id)}`);
  await assert.rejects(stat(join(root, CURRENT_APP_FILE)), { code: "ENOENT" });
});
