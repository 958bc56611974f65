import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ingestLogFile } from "./ingest-file.js";
import { createMinuteCounter, type MinuteCounts } from "./minute-counter.js";
import { createRandom, syntheticCombinedLog } from "./synthetic-log.js";

const total = (minutes: MinuteCounts[]) => minutes.reduce((sum, m) => sum + m.total, 0);

describe("ingestLogFile", () => {
  let dir: string;
  let text: string;
  const truth = createMinuteCounter();
  const LINES = 30_000;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-ingest-"));
    text = [...syntheticCombinedLog({ lines: LINES, ratePerSecond: 30, seed: 5 }, truth)].join("");
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function file(name: string, content: string | Buffer): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  }

  test("plain and gzip give the same counts and the same content hash; the name does not matter", async () => {
    const plain = await ingestLogFile(await file("access.log", text));
    const gz = await ingestLogFile(await file("access.log", gzipSync(text)), { chunkSize: 4096 });
    const misnamed = await ingestLogFile(await file("access.log.gz", text));
    assert.equal(plain.gzip, false);
    assert.equal(gz.gzip, true);
    assert.equal(misnamed.gzip, false);
    for (const r of [plain, gz, misnamed]) {
      assert.deepEqual(r.minutes, truth.toArray());
      assert.equal(r.counted, LINES);
      assert.equal(r.malformed, 0);
      assert.deepEqual(r.errors, []);
    }
    assert.equal(gz.sha256, plain.sha256);
    assert.match(plain.sha256, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(plain.formats, { combined: LINES });
    assert.equal(plain.first, truth.toArray()[0]!.minute);
  });

  test("multi-member gzip (concatenated .gz files) is read to the end", async () => {
    const cut = text.indexOf("\n", text.length / 2) + 1;
    const content = Buffer.concat([gzipSync(text.slice(0, cut)), gzipSync(text.slice(cut))]);
    const r = await ingestLogFile(await file("multi", content));
    assert.equal(r.counted, LINES);
    assert.deepEqual(r.errors, []);
  });

  test("a truncated gzip keeps every line that decoded and reports the truncation", async () => {
    const gz = gzipSync(text);
    const r = await ingestLogFile(
      await file("truncated", gz.subarray(0, Math.floor(gz.length * 0.6))),
    );
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.kind, "gzip_truncated");
    assert.match(r.errors[0]!.message, /^\[traffic\] gzip: truncated/);
    // Every complete line that decoded counts: all lines of the decoded prefix but the cut one.
    const decodedLines = text.slice(0, r.decodedBytes).split("\n").length - 1;
    assert.ok(decodedLines > LINES * 0.4, `decoded ${decodedLines} lines`);
    assert.equal(r.counted, decodedLines);
    assert.ok(r.malformed <= 1);
  });

  test("garbage after a complete gzip loses no line", async () => {
    const r = await ingestLogFile(
      await file("trailing", Buffer.concat([gzipSync(text), Buffer.from("garbage!")])),
    );
    assert.equal(r.counted, LINES);
    assert.equal(r.errors[0]?.kind, "gzip_corrupt");
  });

  test("gzip magic followed by random bytes is an error report, not a crash", async () => {
    const random = createRandom(11);
    const junk = Buffer.alloc(50_000);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
    junk[0] = 0x1f;
    junk[1] = 0x8b;
    const r = await ingestLogFile(await file("fake.gz", junk));
    assert.equal(r.gzip, true);
    assert.equal(r.counted, 0);
    assert.equal(r.errors.length, 1);
  });

  test("random bytes between good lines: the good lines all count", async () => {
    const random = createRandom(12);
    const junk = Buffer.alloc(100_000);
    for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
    const content = Buffer.concat([Buffer.from(text), junk, Buffer.from("\n" + text)]);
    const r = await ingestLogFile(await file("noisy", content), { chunkSize: 65536 });
    assert.equal(r.counted, 2 * LINES);
    assert.equal(total(r.minutes), 2 * LINES);
    assert.ok(r.malformed > 0);
    assert.equal(r.samples.length, 5);
    assert.ok(r.samples.every((s) => s.line > LINES && s.line <= r.lines + 1));
  });

  test("mixed formats in one file all count in auto mode", async () => {
    const content = [
      '1.2.3.4 - - [01/Mar/2024:09:00:01 +0900] "GET / HTTP/1.1" 200 5 "-" "ua"',
      '{"time":"2024-03-01T00:00:02Z","status":404}',
      "time:[01/Mar/2024:00:00:03 +0000]\tstatus:500",
      '5.6.7.8 - - [01/Mar/2024:00:01:00 +0000] "GET / HTTP/1.1" 301 -',
      "not a log line",
    ].join("\n");
    const r = await ingestLogFile(await file("mixed", content));
    assert.equal(r.counted, 4);
    assert.equal(r.malformed, 1);
    assert.deepEqual(r.formats, { combined: 1, json: 1, ltsv: 1, common: 1 });
    assert.deepEqual(r.minutes, [
      { minute: Date.UTC(2024, 2, 1, 0, 0), total: 3, s2xx: 1, s3xx: 0, s4xx: 1, s5xx: 1 },
      { minute: Date.UTC(2024, 2, 1, 0, 1), total: 1, s2xx: 0, s3xx: 1, s4xx: 0, s5xx: 0 },
    ]);
    const strict = await ingestLogFile(join(dir, "mixed"), { format: "combined" });
    assert.equal(strict.counted, 2);
    assert.equal(strict.malformed, 3);
  });

  test("an empty file is zero lines", async () => {
    const r = await ingestLogFile(await file("empty", ""));
    assert.equal(r.lines, 0);
    assert.equal(r.first, null);
    assert.deepEqual(r.minutes, []);
  });
});
