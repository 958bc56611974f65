import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { releaseDir, switchCurrent } from "../lib/server-root.js";
import { readCurrentApp, saveCurrentApp } from "./current-app.js";
import { loadAppSpec } from "./release-app.js";

const EXAMPLE_APP = fileURLToPath(new URL("../../examples/hello", import.meta.url));
const RELEASE = `sha256:${"c".repeat(64)}`;
const OTHER = `sha256:${"d".repeat(64)}`;

describe("the saved app of current (the early boot starts it without parsing strata.yaml)", () => {
  let root = "";
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "strata-current-app-"));
    await cp(EXAMPLE_APP, releaseDir(root, RELEASE), { recursive: true });
    await switchCurrent(root, RELEASE, { activated_at: 1, version: "1.2.3" });
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("gives what loadAppSpec gives, for its release only", async () => {
    const parsed = await loadAppSpec(root, RELEASE, "127.82.4.1");
    assert.equal(await readCurrentApp(root, RELEASE, "127.82.4.1"), null, "nothing saved yet");
    await saveCurrentApp(root, RELEASE, parsed.definition);
    assert.deepEqual(await readCurrentApp(root, RELEASE, "127.82.4.1"), parsed);
    assert.equal(await readCurrentApp(root, OTHER, "127.82.4.1"), null, "another release");
  });

  test("is not used once the release's strata.yaml changed, nor when it is unreadable", async () => {
    const parsed = await loadAppSpec(root, RELEASE, "127.82.4.1");
    await saveCurrentApp(root, RELEASE, parsed.definition);
    const file = join(releaseDir(root, RELEASE), "strata.yaml");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace("port: 8080", "port: 8081"));
    assert.equal(await readCurrentApp(root, RELEASE, "127.82.4.1"), null);
    await writeFile(file, text);
    assert.ok(await readCurrentApp(root, RELEASE, "127.82.4.1"), "the same text again");
    await writeFile(join(root, "current-app.json"), "{not json");
    assert.equal(await readCurrentApp(root, RELEASE, "127.82.4.1"), null);
  });
});
