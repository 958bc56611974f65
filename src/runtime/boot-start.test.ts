import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { releaseDir, switchCurrent } from "../lib/server-root.js";
import { isAlive, httpStatus, waitFor } from "../lib/test-support.js";
import { BOOT_APP_PID_FILE, startAtBoot, takeBootApp } from "./boot-start.js";
import { STOPPED_MARKER, saveCurrentApp } from "./current-app.js";
import { startEarly } from "./early-boot.js";
import { loadAppSpec, loadDefinition } from "./release-app.js";

const EXAMPLE_APP = fileURLToPath(new URL("../../examples/hello", import.meta.url));
const RELEASE = `sha256:${"b".repeat(64)}`;
const OTHER = `sha256:${"c".repeat(64)}`;
// As root, apps would run as an account of their own; these run as the test does.
const ENV = { STRATA_APP_USER: "root" };

/** Status of GET / on the app's port. */
const answer = (address: string) => httpStatus(address, 8080);

const flags = (root: string, address: string) => [
  ...["--server", "http://127.82.250.1:9", "--group", "web"],
  ...["--root", root, "--address", address],
];

describe("the app started at the server's boot, adopted by its agent (issue 13: service-in)", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-boot-start-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A root as a bake leaves it: the example app as `current`, its parsed strata.yaml saved. */
  async function imageRoot(): Promise<string> {
    const root = await mkdtemp(join(dir, "root-"));
    await cp(EXAMPLE_APP, releaseDir(root, RELEASE), { recursive: true });
    await switchCurrent(root, RELEASE, { activated_at: Date.now(), version: "1.0.0" });
    await saveCurrentApp(root, RELEASE, await loadDefinition(root, RELEASE));
    return root;
  }

  test("the boot starts the app from the image's root and the agent's early boot adopts it", async () => {
    const root = await imageRoot();
    const pid = await startAtBoot({ root, address: "127.82.4.1", env: process.env });
    assert.ok(pid, "started");
    assert.equal((await readFile(join(root, BOOT_APP_PID_FILE), "utf8")).trim(), String(pid));
    await waitFor("the app to answer", async () => (await answer("127.82.4.1")) === 200);
    const early = await startEarly(flags(root, "127.82.4.1"), ENV);
    assert.ok(early?.started, "the agent runs the app");
    try {
      const opened = early.attach({ token: null, setToken() {} }, () => undefined);
      assert.equal(opened.supervisor.pid, pid, "the same process: no second start");
      assert.equal(opened.supervisor.secretsMissing, true, "asked again once joined");
      await assert.rejects(readFile(join(root, BOOT_APP_PID_FILE)), "taken");
      const log = await readFile(join(root, "app.log"), "utf8");
      assert.match(
        log,
        new RegExp(`started ${RELEASE} \\(1\\.0\\.0\\) pid ${pid} at the server's boot`),
      );
      assert.match(log, new RegExp(`adopted ${RELEASE} \\(1\\.0\\.0\\) pid ${pid}`));
    } finally {
      await early.stop();
    }
    assert.ok(!isAlive(pid), "the agent's stop stops the adopted app");
    assert.equal(await answer("127.82.4.1"), 0);
  });

  test("starts nothing where the agent's boot would not, or would parse strata.yaml", async () => {
    const stopped = await imageRoot();
    await writeFile(join(stopped, STOPPED_MARKER), "");
    const switching = await imageRoot();
    await writeFile(join(switching, "switching.json"), "{}\n");
    const unparsed = await imageRoot();
    await rm(join(unparsed, "current-app.json"));
    const empty = await mkdtemp(join(dir, "root-"));
    for (const root of [stopped, switching, unparsed, empty]) {
      assert.equal(await startAtBoot({ root, address: "127.82.4.2", env: process.env }), null);
      await assert.rejects(readFile(join(root, BOOT_APP_PID_FILE)), root);
    }
    assert.equal(await answer("127.82.4.2"), 0);
  });

  test("a boot app that runs another release than the agent's is stopped, not adopted", async () => {
    const root = await imageRoot();
    await mkdir(releaseDir(root, OTHER), { recursive: true });
    const other = spawn("sleep", ["60"], {
      cwd: releaseDir(root, OTHER),
      detached: true,
      stdio: "ignore",
    });
    other.unref();
    await writeFile(join(root, BOOT_APP_PID_FILE), `${other.pid}\n`);
    const app = await loadAppSpec(root, RELEASE, "127.82.4.3");
    assert.equal(await takeBootApp(root, app, undefined), null);
    await waitFor("the other release's app to stop", async () => !isAlive(other.pid!));
    await assert.rejects(readFile(join(root, BOOT_APP_PID_FILE)));
    // A pid file naming nothing alive is dropped.
    await writeFile(join(root, BOOT_APP_PID_FILE), `${other.pid}\n`);
    assert.equal(await takeBootApp(root, app, undefined), null);
    await assert.rejects(readFile(join(root, BOOT_APP_PID_FILE)));
  });
});
