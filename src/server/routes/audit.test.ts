import assert from "node:assert/strict";
import { test } from "node:test";
import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import type { AuditVerifyView } from "../../wire/audit.js";
import { auditRoutes } from "./audit.js";

test("GET /audit/verify names the first edited entry", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const app = auditRoutes({ audit: store.audit });
  for (let i = 0; i < 3; i++)
    await store.audit.append({
      at: i,
      actor: "admin",
      action: "deploy",
      subject: "web",
      detail: {},
    });
  const before = (await (await app.request("/audit/verify")).json()) as AuditVerifyView;
  assert.deepEqual([before.ok, before.entries, before.broken], [true, 3, null]);

  store.db.exec("DROP TRIGGER audit_log_no_update");
  store.db.prepare("UPDATE audit_log SET actor = 'someone else' WHERE id = 2").run();
  const res = await app.request("/audit/verify");
  assert.equal(res.status, 200);
  const after = (await res.json()) as AuditVerifyView;
  assert.equal(after.ok, false);
  assert.equal(after.broken?.id, 2);
  assert.equal(after.entries, 1);
  await store.close();
});
