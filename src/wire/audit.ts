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

/** `GET /v1/audit/verify`: the audit log's hash chain, recomputed from the first entry. */
export interface AuditVerifyView {
  /** True when every entry matches its content and links to the one before it. */
  ok: boolean;
  /** Entries verified before the first broken one (all of them when ok). */
  entries: number;
  /** Hash of the last verified entry (null for an empty log); record it to notice truncation later. */
  head: string | null;
  /** The first entry that breaks the chain and why; null when ok. */
  broken: { id: number; reason: string } | null;
}
