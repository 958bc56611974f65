/** One entry of the append-only audit log (`GET /v1/audit`), newest first. */
export interface AuditEntryView {
  id: number;
  /** ISO 8601 UTC. */
  at: string;
  actor: string;
  /** `deploy.start`, `image.bake.queued`, `lock.acquire`, ... */
  action: string;
  /** What it acted on: `hello/web`, a group, an image id. */
  subject: string;
  detail: Record<string, unknown>;
}

export interface AuditView {
  entries: AuditEntryView[];
}
