import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { AuditRepo } from "./store.js";

/**
 * What someone with direct access to the database could do behind the repo's
 * back (with the engine's own guards, such as triggers, out of the way).
 */
export interface AuditTamper {
  /** Rewrites the detail of entry `id` in place, hashes untouched. */
  edit(id: number, detail: Record<string, unknown>): Promise<void>;
  /** Removes entry `id`. */
  remove(id: number): Promise<void>;
  /** Exchanges the contents (everything but the id) of entries `a` and `b`. */
  swap(a: number, b: number): Promise<void>;
}

export interface AuditRepoContractOptions {
  /** A fresh, empty repo per test, a way to tamper with its rows, and how to dispose of it. */
  create: () => Promise<{ repo: AuditRepo; tamper: AuditTamper; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

interface Subject {
  repo: AuditRepo;
  tamper: AuditTamper;
}

const T0 = 1_700_000_000_000;

async function appendFive(repo: AuditRepo): Promise<number[]> {
  for (let i = 0; i < 5; i++) {
    await repo.append({
      at: T0 + i,
      actor: i % 2 ? "admin" : "control-plane",
      action: "deploy.start",
      subject: `hello/web`,
      detail: { n: i, nested: { b: [1, "x"], a: null } },
    });
  }
  return (await repo.list()).map((e) => e.id).reverse();
}

/** The behaviour every AuditRepo implementation must have. */
export function runAuditRepoContract(options: AuditRepoContractOptions): void {
  const cases: Record<string, (s: Subject) => Promise<void>> = {
    "entries read back newest first, filtered by subject, with a limit": async ({ repo }) => {
      await repo.append({ at: T0, actor: "a", action: "x", subject: "s1", detail: { k: 1 } });
      await repo.append({ at: T0 + 1, actor: "b", action: "y", subject: "s2", detail: {} });
      await repo.append({ at: T0 + 2, actor: "c", action: "z", subject: "s1", detail: { k: "v" } });
      const all = await repo.list();
      assert.deepEqual(
        all.map((e) => [e.at, e.actor, e.action, e.subject, e.detail]),
        [
          [T0 + 2, "c", "z", "s1", { k: "v" }],
          [T0 + 1, "b", "y", "s2", {}],
          [T0, "a", "x", "s1", { k: 1 }],
        ],
      );
      assert.ok(all[0]!.id > all[1]!.id && all[1]!.id > all[2]!.id, "ids grow");
      assert.deepEqual(
        (await repo.list({ subject: "s1" })).map((e) => e.action),
        ["z", "x"],
      );
      assert.deepEqual(
        (await repo.list({ limit: 1 })).map((e) => e.action),
        ["z"],
      );
    },
    "each entry carries the hash of the one before it": async ({ repo }) => {
      await appendFive(repo);
      const oldestFirst = (await repo.list()).reverse();
      assert.equal(oldestFirst[0]!.prev_hash, "0".repeat(64));
      for (let i = 1; i < oldestFirst.length; i++)
        assert.equal(oldestFirst[i]!.prev_hash, oldestFirst[i - 1]!.hash);
      assert.match(oldestFirst[4]!.hash, /^[0-9a-f]{64}$/);
    },
    "an untouched log verifies, empty or not": async ({ repo }) => {
      assert.deepEqual(await repo.verify(), { ok: true, entries: 0, head: null, broken: null });
      await appendFive(repo);
      const newest = (await repo.list({ limit: 1 }))[0]!;
      assert.deepEqual(await repo.verify(), {
        ok: true,
        entries: 5,
        head: newest.hash,
        broken: null,
      });
    },
    "concurrent appends keep one unbroken chain": async ({ repo }) => {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          repo.append({ at: T0, actor: "a", action: "x", subject: "s", detail: { i } }),
        ),
      );
      const result = await repo.verify();
      assert.equal(result.ok, true, JSON.stringify(result.broken));
      assert.equal(result.entries, 30);
    },
    "an edited entry is named": async ({ repo, tamper }) => {
      const ids = await appendFive(repo);
      await tamper.edit(ids[2]!, { n: 99 });
      const result = await repo.verify();
      assert.equal(result.ok, false);
      assert.equal(result.broken?.id, ids[2]);
      assert.match(result.broken!.reason, /edited/);
      assert.equal(result.entries, 2);
    },
    "a deleted entry is found at the one after it": async ({ repo, tamper }) => {
      const ids = await appendFive(repo);
      await tamper.remove(ids[1]!);
      const result = await repo.verify();
      assert.equal(result.broken?.id, ids[2]);
      assert.match(result.broken!.reason, new RegExp(`entry ${ids[0]}`));
    },
    "a deleted first entry is found": async ({ repo, tamper }) => {
      const ids = await appendFive(repo);
      await tamper.remove(ids[0]!);
      assert.equal((await repo.verify()).broken?.id, ids[1]);
    },
    "reordered entries are found": async ({ repo, tamper }) => {
      const ids = await appendFive(repo);
      await tamper.swap(ids[1]!, ids[3]!);
      const result = await repo.verify();
      assert.equal(result.ok, false);
      assert.equal(result.broken?.id, ids[1]);
    },
  };

  describe("AuditRepo contract", () => {
    runCases(
      cases,
      async () => {
        const { repo, tamper, close } = await options.create();
        return { subject: { repo, tamper }, close };
      },
      options.skip,
    );
  });
}
