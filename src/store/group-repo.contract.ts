import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { GroupRepo } from "./store.js";

export interface GroupRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: GroupRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const R1 = `sha256:${"1".repeat(64)}`;
const R2 = `sha256:${"2".repeat(64)}`;

/** The behaviour every GroupRepo implementation must have. */
export function runGroupRepoContract(options: GroupRepoContractOptions): void {
  const cases: Record<string, (repo: GroupRepo) => Promise<void>> = {
    "ensure creates an empty group once and returns it either way": async (repo) => {
      const empty = {
        name: "web",
        app: null,
        desired_release: null,
        previous_release: null,
        balancer_port: null,
      };
      assert.deepEqual(await repo.ensure("web"), empty);
      await repo.update("web", { app: "hello", balancer_port: 8081 });
      assert.deepEqual(await repo.ensure("web"), { ...empty, app: "hello", balancer_port: 8081 });
      assert.equal((await repo.list()).length, 1);
    },
    "get of a missing group is null": async (repo) => {
      assert.equal(await repo.get("web"), null);
    },
    "update sets only the given fields, null included": async (repo) => {
      await repo.ensure("web");
      await repo.update("web", { app: "hello", desired_release: R1 });
      await repo.update("web", { desired_release: R2, previous_release: R1 });
      assert.deepEqual(await repo.get("web"), {
        name: "web",
        app: "hello",
        desired_release: R2,
        previous_release: R1,
        balancer_port: null,
      });
      await repo.update("web", { previous_release: null });
      assert.equal((await repo.get("web"))?.previous_release, null);
      await repo.update("web", {});
      assert.equal((await repo.get("web"))?.desired_release, R2);
    },
    "delete forgets the group; deleting again is no error": async (repo) => {
      await repo.ensure("web");
      await repo.ensure("api");
      await repo.delete("web");
      await repo.delete("web");
      assert.equal(await repo.get("web"), null);
      assert.deepEqual(
        (await repo.list()).map((g) => g.name),
        ["api"],
      );
    },
    "list is ordered by name": async (repo) => {
      for (const name of ["web", "api", "batch"]) await repo.ensure(name);
      assert.deepEqual(
        (await repo.list()).map((g) => g.name),
        ["api", "batch", "web"],
      );
    },
    "concurrent ensures of one name make one group": async (repo) => {
      const all = await Promise.all(Array.from({ length: 10 }, () => repo.ensure("web")));
      assert.ok(all.every((g) => g.name === "web"));
      assert.equal((await repo.list()).length, 1);
    },
  };

  describe("GroupRepo contract", () => {
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
