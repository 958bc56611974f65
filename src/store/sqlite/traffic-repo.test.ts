import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import Database from "better-sqlite3";
import { runTrafficRepoContract } from "../traffic-repo.contract.js";
import { migrate } from "./migrate.js";
import { createSqliteTrafficRepo } from "./traffic-repo.js";

const MIGRATION = readFileSync(new URL("./migrations/002-traffic.sql", import.meta.url), "utf8");

function openDb(): Database.Database {
  const db = new Database(":memory:");
  db.exec(MIGRATION);
  return db;
}

runTrafficRepoContract({
  create: async () => {
    const db = openDb();
    return { repo: createSqliteTrafficRepo(db), close: async () => void db.close() };
  },
});

test("the migration applies in one transaction, as the migration runner does", () => {
  const db = new Database(":memory:");
  db.transaction(() => db.exec(MIGRATION))();
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'traffic_%' ORDER BY name",
    )
    .all()
    .map((r) => (r as { name: string }).name);
  assert.deepEqual(tables, ["traffic_checkpoints", "traffic_minutes", "traffic_sources"]);
  db.close();
});

test("the project's migration runner applies 002-traffic.sql with the others", async () => {
  const db = new Database(":memory:");
  assert.ok(migrate(db).includes("002-traffic.sql"));
  assert.deepEqual(migrate(db), []);
  const repo = createSqliteTrafficRepo(db);
  await repo.add("web", [{ minute: 0, total: 1, s2xx: 1, s3xx: 0, s4xx: 0, s5xx: 0 }]);
  assert.equal((await repo.minutes("web", 0, 60_000)).length, 1);
  db.close();
});

test("counts above 2^31 add up exactly", async () => {
  const db = openDb();
  const repo = createSqliteTrafficRepo(db);
  const big = 3_000_000_000;
  const row = { minute: 0, total: big, s2xx: big, s3xx: 0, s4xx: 0, s5xx: 0 };
  await repo.add("web", [row]);
  await repo.add("web", [row]);
  const [hour] = await repo.hourly("web", 0, 3_600_000);
  assert.equal(hour?.total, 2 * big);
  db.close();
});

test("source records carry the clock's time", async () => {
  const db = openDb();
  const repo = createSqliteTrafficRepo(db, { clock: { now: () => 1234, sleep: async () => {} } });
  await repo.add("web", [], { key: "follow:x", start: 0, end: 10 });
  assert.equal((await repo.checkpoint("web", "follow:x"))?.updatedAt, 1234);
  db.close();
});
