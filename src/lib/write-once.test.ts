import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeOnce } from "./write-once.js";

test("of writers racing for one file exactly one wins, whole, 0600, and no draft is left", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-write-once-"));
  try {
    const path = join(dir, "key");
    const data = Array.from({ length: 8 }, (_, i) => `key ${i}\n`.repeat(1000));
    const won = await Promise.all(data.map((d) => writeOnce(path, d)));
    assert.equal(won.filter(Boolean).length, 1);
    assert.equal(await readFile(path, "utf8"), data[won.indexOf(true)]);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ["key"]);
    assert.equal(await writeOnce(path, "again"), false, "an existing file is kept");
    assert.equal(await readFile(path, "utf8"), data[won.indexOf(true)]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
