import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRotatingWriter, rotateIfLarge, rotatedFiles } from "./log-rotation.js";

describe("log rotation (issue 15: app.log was one growing file)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-rotation-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("copies to .1, shifts older copies up, drops the one past keep; small files stay", async () => {
    const file = join(dir, "app.log");
    const rotation = { maxBytes: 10, keep: 2 };
    await writeFile(file, "short\n");
    assert.equal(rotateIfLarge(file, rotation), false);
    for (const text of ["first run 1\n", "second run 2\n", "third run 3\n"]) {
      await writeFile(file, text, { flag: "a" });
      assert.equal(rotateIfLarge(file, rotation), true);
    }
    assert.equal(await readFile(file, "utf8"), "");
    assert.equal(await readFile(`${file}.1`, "utf8"), "third run 3\n");
    assert.equal(await readFile(`${file}.2`, "utf8"), "second run 2\n");
    assert.deepEqual(rotatedFiles(file, 5), [`${file}.2`, `${file}.1`, file]);
    assert.equal(rotateIfLarge(join(dir, "missing.log"), rotation), false);
  });

  test("the writer appends lines and rotates past the size, making its folder", async () => {
    const file = join(dir, "logs", "agent.log");
    const write = createRotatingWriter(file, { maxBytes: 20, keep: 1 }, 1);
    for (let i = 0; i < 5; i++) write(`line ${i} of the log`);
    assert.deepEqual(rotatedFiles(file, 3), [`${file}.1`, file]);
    assert.equal(await readFile(file, "utf8"), "line 4 of the log\n");
    assert.equal(await readFile(`${file}.1`, "utf8"), "line 2 of the log\nline 3 of the log\n");
  });
});
