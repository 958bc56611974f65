import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { createSqliteTrafficRepo } from "../store/sqlite/traffic-repo.js";
import { createMinuteCounter } from "./minute-counter.js";
import { syntheticCombinedLog } from "./synthetic-log.js";
import { batchesByDay, uploadLogFiles, type TrafficApi } from "./upload.js";

const MIGRATION = readFileSync(
  new URL("../store/sqlite/migrations/002-traffic.sql", import.meta.url),
  "utf8",
);

test("batches are UTC days, whatever the order of the minutes", () => {
  const day = 86_400_000;
  const m = (t: number) => ({ minute: t, total: 1, s2xx: 1, s3xx: 0, s4xx: 0, s5xx: 0 });
  const batches = batchesByDay([m(2 * day + 60_000), m(day - 60_000), m(2 * day)]);
  assert.deepEqual(
    batches.map((b) => [b.part, b.minutes.length]),
    [
      [0, 1],
      [2, 2],
    ],
  );
});

test("an upload cut off half-way, run again, counts every line exactly once", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-upload-"));
  const db = new Database(":memory:");
  try {
    db.exec(MIGRATION);
    const repo = createSqliteTrafficRepo(db);
    const truth = createMinuteCounter();
    const text = [
      ...syntheticCombinedLog({ lines: 6000, ratePerSecond: 0.01, seed: 4 }, truth),
    ].join("");
    const path = join(dir, "access.log");
    await writeFile(path, text);
    let posts = 0;
    const api = (failAfter: number): TrafficApi => ({
      post: async (app, body) => {
        if (++posts > failAfter) throw new Error("connection reset");
        const minutes = body.minutes.map(({ minute, ...c }) => ({
          minute: Date.parse(minute),
          ...c,
        }));
        return repo.add(app, minutes, body.source);
      },
      checkpoint: async () => null,
    });
    await assert.rejects(
      uploadLogFiles({ api: api(2), app: "web", files: [path] }),
      /connection reset/,
    );
    posts = 0;
    const [report] = await uploadLogFiles({ api: api(Infinity), app: "web", files: [path] });
    assert.equal(report!.upload.duplicateBatches, 2);
    assert.ok(report!.upload.batches > 2);
    assert.deepEqual(await repo.minutes("web", 0, Date.UTC(2100, 0, 1)), truth.toArray());
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
});
