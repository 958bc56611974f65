import { createHash } from "node:crypto";
import type { AuditEntry, AuditVerification, ChainedAuditEntry } from "./store.js";

/** `prev_hash` of the first entry. */
export const AUDIT_GENESIS = "0".repeat(64);

/**
 * The hash of one entry: sha256 over its id, content and the previous
 * entry's hash, as canonical JSON (keys sorted at every depth), so the value
 * does not depend on how an engine stores JSON. The id is part of it, so a
 * row moved to another place of the log no longer matches.
 */
export function auditHash(entry: AuditEntry, prevHash: string): string {
  const content = [
    entry.id,
    entry.at,
    entry.actor,
    entry.action,
    entry.subject,
    canonical(entry.detail),
    prevHash,
  ];
  return createHash("sha256").update(JSON.stringify(content)).digest("hex");
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const keys = Object.keys(value).sort();
    const obj = value as Record<string, unknown>;
    return `{${keys
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Recomputes the chain over every entry, oldest first, and names the first
 * entry that breaks it: its own hash does not match its content (edited), or
 * its `prev_hash` is not the hash of the entry before it (one deleted,
 * inserted or moved). The chain alone cannot see entries cut off the end:
 * compare `head` and `entries` with values recorded earlier for that.
 */
export async function verifyAuditChain(
  entries: AsyncIterable<ChainedAuditEntry>,
): Promise<AuditVerification> {
  let prev = AUDIT_GENESIS;
  let prevId: number | null = null;
  let count = 0;
  for await (const entry of entries) {
    if (entry.prev_hash !== prev) {
      return {
        ok: false,
        entries: count,
        head: prev === AUDIT_GENESIS ? null : prev,
        broken: {
          id: entry.id,
          reason:
            prevId === null
              ? "the first entry does not start the chain (entries before it are missing)"
              : `its previous hash does not match entry ${prevId} (an entry is missing, inserted or out of order)`,
        },
      };
    }
    if (auditHash(entry, entry.prev_hash) !== entry.hash) {
      return {
        ok: false,
        entries: count,
        head: prev === AUDIT_GENESIS ? null : prev,
        broken: { id: entry.id, reason: "its hash does not match its content (edited)" },
      };
    }
    prev = entry.hash;
    prevId = entry.id;
    count++;
  }
  return { ok: true, entries: count, head: prev === AUDIT_GENESIS ? null : prev, broken: null };
}

/** Pages through `scan` (entries with id > after, oldest first) as one sequence. */
export async function* scanAll(
  scan: (afterId: number, limit: number) => Promise<ChainedAuditEntry[]>,
  pageSize = 1000,
): AsyncGenerator<ChainedAuditEntry> {
  let after = -1;
  for (;;) {
    const page = await scan(after, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}
