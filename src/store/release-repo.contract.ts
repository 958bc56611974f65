import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { Release } from "../wire/release.js";
import type { ReleaseRepo } from "./store.js";

export interface ReleaseRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: ReleaseRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

export function release(app: string, version: string, hex: string, at = 0): Release {
  return {
    id: `sha256:${hex.repeat(64 / hex.length)}`,
    app,
    version,
    size: 1234,
    file_count: 7,
    created_at: new Date(Date.UTC(2024, 2, 1) + at * 60_000).toISOString(),
  };
}

/** The behaviour every ReleaseRepo implementation must have. */
export function runReleaseRepoContract(options: ReleaseRepoContractOptions): void {
  const cases: Record<string, (repo: ReleaseRepo) => Promise<void>> = {
    "a release reads back whole by version and by id": async (repo) => {
      const r = release("hello", "1.0", "a");
      await repo.insert(r);
      assert.deepEqual(await repo.get("hello", "1.0"), r);
      assert.deepEqual(await repo.getById(r.id), r);
      assert.equal(await repo.get("hello", "2.0"), null);
      assert.equal(await repo.get("other", "1.0"), null);
      assert.equal(await repo.getById(release("x", "1", "f").id), null);
    },
    "inserting the same release twice is a no-op": async (repo) => {
      const r = release("hello", "1.0", "a");
      await repo.insert(r);
      await repo.insert(r);
      assert.deepEqual(await repo.list(), [r]);
    },
    "a different id for an existing version is a conflict naming both": async (repo) => {
      const first = release("hello", "1.0", "a");
      await repo.insert(first);
      await assert.rejects(repo.insert(release("hello", "1.0", "b")), (err: unknown) => {
        assert.equal((err as { code?: string }).code, "conflict");
        assert.match((err as Error).message, /hello@1\.0/);
        return true;
      });
      assert.deepEqual(await repo.get("hello", "1.0"), first);
    },
    "the same bytes may be two versions or two apps": async (repo) => {
      await repo.insert(release("hello", "1.0", "a", 0));
      await repo.insert(release("hello", "1.1", "a", 1));
      await repo.insert(release("other", "1.0", "a", 2));
      assert.equal((await repo.list()).length, 3);
      assert.equal((await repo.getById(release("hello", "1.0", "a").id))?.version, "1.0");
    },
    "delete forgets one app@version only; again is no error": async (repo) => {
      await repo.insert(release("hello", "1.0", "a", 0));
      await repo.insert(release("hello", "1.1", "a", 1));
      await repo.delete("hello", "1.0");
      await repo.delete("hello", "1.0");
      assert.equal(await repo.get("hello", "1.0"), null);
      assert.equal((await repo.getById(release("hello", "1.1", "a").id))?.version, "1.1");
    },
    "list is newest first, optionally of one app": async (repo) => {
      await repo.insert(release("hello", "1.0", "a", 0));
      await repo.insert(release("other", "1.0", "b", 1));
      await repo.insert(release("hello", "2.0", "c", 2));
      assert.deepEqual(
        (await repo.list()).map((r) => `${r.app}@${r.version}`),
        ["hello@2.0", "other@1.0", "hello@1.0"],
      );
      assert.deepEqual(
        (await repo.list("hello")).map((r) => r.version),
        ["2.0", "1.0"],
      );
      assert.deepEqual(await repo.list("nobody"), []);
    },
  };

  describe("ReleaseRepo contract", () => {
    runCases(
      cases,
      async () => {
        const { repo, close } = await options.create();
        return { subject: repo, close };
      },
      options.skip,
    );
  });
}
