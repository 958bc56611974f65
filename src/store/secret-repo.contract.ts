import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { SecretRepo } from "./secret-repo.js";

export interface SecretRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: SecretRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const record = (app: string, key: string, sealed: string, updated_at = 1) => ({
  app,
  key,
  sealed,
  updated_at,
});

/** The behaviour every SecretRepo implementation must have. */
export function runSecretRepoContract(options: SecretRepoContractOptions): void {
  const cases: Record<string, (repo: SecretRepo) => Promise<void>> = {
    "put inserts, then replaces; list is by key and per app": async (repo) => {
      await repo.put(record("hello", "B_KEY", "v1:b"));
      await repo.put(record("hello", "A_KEY", "v1:a"));
      await repo.put(record("other", "A_KEY", "v1:other"));
      await repo.put(record("hello", "B_KEY", "v1:b2", 2));
      assert.deepEqual(await repo.list("hello"), [
        record("hello", "A_KEY", "v1:a"),
        record("hello", "B_KEY", "v1:b2", 2),
      ]);
      assert.deepEqual(await repo.list("none"), []);
    },
    "delete says whether there was one": async (repo) => {
      await repo.put(record("hello", "K", "v1:k"));
      assert.equal(await repo.delete("hello", "K"), true);
      assert.equal(await repo.delete("hello", "K"), false);
      assert.deepEqual(await repo.list("hello"), []);
    },
    "deleteApp removes only that app's secrets": async (repo) => {
      await repo.put(record("hello", "A", "v1:a"));
      await repo.put(record("hello", "B", "v1:b"));
      await repo.put(record("other", "A", "v1:o"));
      assert.equal(await repo.deleteApp("hello"), 2);
      assert.deepEqual(await repo.list("hello"), []);
      assert.equal((await repo.list("other")).length, 1);
    },
  };

  describe("SecretRepo contract", () => {
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
