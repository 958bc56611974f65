import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { runAuditRepoContract } from "../audit-repo.contract.js";
import { runDeploymentRepoContract } from "../deployment-repo.contract.js";
import { runDesiredRepoContract } from "../desired-repo.contract.js";
import { runGroupRepoContract } from "../group-repo.contract.js";
import { runImageRepoContract } from "../image-repo.contract.js";
import { runReleaseRepoContract } from "../release-repo.contract.js";
import { runServerRepoContract } from "../server-repo.contract.js";
import { runSecretRepoContract } from "../secret-repo.contract.js";
import type { Store } from "../store.js";
import { migrate } from "./migrate.js";
import { createSqliteStore } from "./sqlite-store.js";

function contract<K extends keyof Store>(key: K) {
  return async () => {
    const store = createSqliteStore({ path: ":memory:" });
    return { repo: store[key], close: () => store.close() };
  };
}

runReleaseRepoContract({ create: contract("releases") });
runGroupRepoContract({ create: contract("groups") });
runServerRepoContract({ create: contract("servers") });
runDeploymentRepoContract({ create: contract("deployments") });
runDesiredRepoContract({ create: contract("desired") });
runImageRepoContract({ create: contract("images") });
runSecretRepoContract({ create: contract("secrets") });
runAuditRepoContract({
  create: async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const { db } = store;
    // Anyone who can open the file can drop the triggers first.
    const unguarded = (fn: () => void) => {
      db.exec(
        "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete",
      );
      fn();
    };
    return {
      repo: store.audit,
      close: () => store.close(),
      tamper: {
        edit: async (id, detail) =>
          unguarded(() =>
            db
              .prepare("UPDATE audit_log SET detail = ? WHERE id = ?")
              .run(JSON.stringify(detail), id),
          ),
        remove: async (id) =>
          unguarded(() => db.prepare("DELETE FROM audit_log WHERE id = ?").run(id)),
        swap: async (a, b) =>
          unguarded(() => {
            const cols = "at, actor, action, subject, detail, prev_hash, hash";
            const get = db.prepare(`SELECT ${cols} FROM audit_log WHERE id = ?`);
            const set = db.prepare(
              `UPDATE audit_log SET (${cols}) = (@at, @actor, @action, @subject, @detail, @prev_hash, @hash) WHERE id = @id`,
            );
            const [ra, rb] = [get.get(a) as object, get.get(b) as object];
            set.run({ ...rb, id: a });
            set.run({ ...ra, id: b });
          }),
      },
    };
  },
});

test("the audit log refuses edits through the database's own triggers too", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  await store.audit.append({ at: 1, actor: "a", action: "x", subject: "s", detail: {} });
  assert.throws(() => store.db.prepare("UPDATE audit_log SET actor = 'b'").run(), /append-only/);
  assert.throws(() => store.db.prepare("DELETE FROM audit_log").run(), /append-only/);
  await store.close();
});

test("entries written before the chain existed are chained when the store opens", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-audit-"));
  try {
    const before = join(dir, "migrations");
    await mkdir(before);
    const migrations = new URL("./migrations/", import.meta.url);
    for (const name of await readdir(migrations))
      if (name < "005") await copyFile(new URL(name, migrations), join(before, name));
    const path = join(dir, "state.db");
    const db = new Database(path);
    migrate(db, before);
    const insert = db.prepare(
      "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, 'a', 'x', 's', ?)",
    );
    for (let i = 0; i < 3; i++) insert.run(i, JSON.stringify({ i }));
    db.close();

    const store = createSqliteStore({ path });
    const first = await store.audit.verify();
    assert.deepEqual([first.ok, first.entries], [true, 3]);
    await store.audit.append({ at: 4, actor: "a", action: "y", subject: "s", detail: {} });
    assert.equal((await store.audit.verify()).entries, 4);
    assert.throws(() => store.db.prepare("UPDATE audit_log SET actor = 'b'").run(), /append-only/);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
