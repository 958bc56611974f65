import { Hono } from "hono";
import type { AuditRepo } from "../../store/store.js";
import type { AuditVerifyView } from "../../wire/audit.js";
import { errorResponse } from "../http-errors.js";

/**
 * `GET /audit/verify`: recomputes the audit log's hash chain and names the
 * first broken entry. Answers 200 either way (the check ran); `ok` says how it
 * went. Mounted under `/v1` behind bearer auth.
 */
export function auditRoutes(deps: { audit: AuditRepo }): Hono {
  const app = new Hono();
  app.onError(errorResponse);
  app.get("/audit/verify", async (c) => {
    const result: AuditVerifyView = await deps.audit.verify();
    return c.json(result);
  });
  return app;
}
