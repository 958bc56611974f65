import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { DesiredRepo } from "./store.js";

export interface DesiredRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: DesiredRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const R1 = `sha256:${"1".repeat(64)}`;
const R2 = `sha256:${"2".repeat(64)}`;
/** Whether the app runs (`strata app stop|restart`): the default, and a stopped one with a restart asked. */
const run = { stopped: false, restart: null };
const stopped = { stopped: true, restart: "d-1" };

/** The behaviour every DesiredRepo implementation must have. */
export function runDesiredRepoContract(options: DesiredRepoContractOptions): void {
  const cases: Record<string, (repo: DesiredRepo) => Promise<void>> = {
    "put replaces a server's record; get reads it back, null when there is none": async (repo) => {
      assert.equal(await repo.get("web-1"), null);
      await repo.put({ ...run, server: "web-1", generation: 1, release: R1, stage: null });
      await repo.put({ server: "web-1", generation: 2, release: R1, stage: R2, ...stopped });
      assert.deepEqual(await repo.get("web-1"), {
        server: "web-1",
        generation: 2,
        release: R1,
        stage: R2,
        ...stopped,
      });
    },
    "putMany writes every record at once and getMany reads those that exist": async (repo) => {
      await repo.put({ ...run, server: "web-0", generation: 7, release: null, stage: null });
      const names = Array.from({ length: 1500 }, (_, i) => `web-${i}`);
      await repo.putMany(
        names.map((server, i) => ({
          server,
          generation: i + 1,
          release: R1,
          stage: null,
          ...(i === 7 ? stopped : run),
        })),
      );
      const found = await repo.getMany([...names, "web-none"]);
      assert.equal(found.length, names.length);
      const byName = new Map(found.map((r) => [r.server, r]));
      assert.deepEqual(byName.get("web-0"), {
        server: "web-0",
        generation: 1,
        release: R1,
        stage: null,
        ...run,
      });
      assert.deepEqual(byName.get("web-7"), {
        server: "web-7",
        generation: 8,
        release: R1,
        stage: null,
        ...stopped,
      });
      assert.equal(byName.get("web-1499")?.generation, 1500);
      assert.deepEqual(await repo.getMany([]), []);
      await repo.putMany([]);
    },
    "deleteMany deletes the records of those servers only (group rm left them)": async (repo) => {
      for (const server of ["web-1", "web-2", "api-1"])
        await repo.put({ ...run, server, generation: 3, release: R1, stage: null });
      await repo.deleteMany(["web-1", "web-2", "web-none"]);
      await repo.deleteMany(["web-1"]);
      await repo.deleteMany([]);
      assert.equal(await repo.get("web-1"), null);
      assert.deepEqual(
        (await repo.getMany(["web-1", "web-2", "api-1"])).map((r) => r.server),
        ["api-1"],
      );
    },
  };
  describe("DesiredRepo contract", () => {
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
