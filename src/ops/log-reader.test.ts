import assert from "node:assert/strict";
import { appendFile, copyFile, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { waitFor } from "../lib/test-support.js";
import { followFile, lineTime, readLastLines } from "./log-reader.js";

describe("log reader", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-log-reader-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a line's time: ISO at the start, strata's notes, a JSON line's time; else none", () => {
    const at = Date.parse("2026-12-01T10:00:00.000Z");
    const cases: [string, number | null][] = [
      ["2026-12-01T10:00:00.000Z GET /", at],
      ["[strata] 2026-12-01T10:00:00.000Z started sha256:ab (1.0.0) pid 7", at],
      ['{"time":"2026-12-01T10:00:00.000Z","level":"info","msg":"joined"}', at],
      ["2026-12-01T11:00:00+01:00 local time", at],
      ["hello 1.0.0 listening on http://127.0.0.1:8080", null],
      ["2026-13-45T99:00:00Z not a date", null],
    ];
    for (const [line, expected] of cases) assert.equal(lineTime(line), expected, line);
  });

  test("the last lines across rotated files, oldest first; since leaves out older ones", async () => {
    const file = join(dir, "app.log");
    await writeFile(`${file}.2`, "[strata] 2026-12-01T09:00:00.000Z started\nold 1\nold 2\n");
    await writeFile(`${file}.1`, "middle 1\n[strata] 2026-12-01T10:00:00.000Z started\nmiddle 2\n");
    await writeFile(file, "new 1\nnew 2\n");
    const files = [`${file}.2`, `${file}.1`, file];
    assert.equal(await readLastLines(files, { lines: 3 }), "middle 2\nnew 1\nnew 2\n");
    const all = await readLastLines(files, { lines: 100 });
    assert.equal(all.split("\n").length - 1, 8);
    assert.match(all, /^\[strata\] 2026-12-01T09:00:00.000Z started\nold 1\n/);
    const since = await readLastLines(files, {
      lines: 100,
      since: Date.parse("2026-12-01T09:30:00Z"),
    });
    assert.equal(since, "[strata] 2026-12-01T10:00:00.000Z started\nmiddle 2\nnew 1\nnew 2\n");
    assert.equal(await readLastLines([join(dir, "none.log")], { lines: 5 }), "");
  });

  test("reads only the end of a large file, never a cut first line", async () => {
    const file = join(dir, "big.log");
    const line = (i: number) => `line ${String(i).padStart(6, "0")} ${"x".repeat(80)}\n`;
    await writeFile(file, Array.from({ length: 5000 }, (_, i) => line(i)).join(""));
    assert.equal(await readLastLines([file], { lines: 2 }), line(4998) + line(4999));
    const bounded = await readLastLines([file], { lines: 5000, maxBytes: 1000 });
    assert.ok(bounded.length <= 1000);
    assert.ok(bounded.endsWith(line(4999)));
    assert.match(bounded, /^line \d{6} x+\n/);
  });

  test("follows appends in whole lines and a copy-and-truncate rotation without losing lines", async () => {
    const file = join(dir, "follow.log");
    await writeFile(file, "before\n");
    const abort = new AbortController();
    let seen = "";
    let idles = 0;
    const following = followFile({
      file,
      from: 7,
      signal: abort.signal,
      pollMs: 10,
      onLines: async (text) => void (seen += text),
      onIdle: async () => void idles++,
    });
    await appendFile(file, "one\ntw");
    await waitFor("one", async () => seen === "one\n");
    await appendFile(file, "o\nthree\n");
    await waitFor("two and three", async () => seen === "one\ntwo\nthree\n");
    // A rotation between two polls: what came after the offset is only in .1 now.
    await appendFile(file, "four\n");
    await copyFile(file, `${file}.1`);
    await truncate(file, 0);
    await appendFile(file, "five\n");
    await waitFor("four and five", async () => seen.endsWith("three\nfour\nfive\n"));
    assert.equal(seen, "one\ntwo\nthree\nfour\nfive\n");
    assert.ok(idles > 0, "keepalives between reads");
    abort.abort();
    await following;
  });
});
