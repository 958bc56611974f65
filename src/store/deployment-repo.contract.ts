import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { DeploymentRecord, DeploymentRepo, DeploymentServerRecord } from "./store.js";

export interface DeploymentRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: DeploymentRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const R1 = `sha256:${"1".repeat(64)}`;
const R2 = `sha256:${"2".repeat(64)}`;
const T0 = 1_700_000_000_000;

function deployment(id: string, patch: Partial<DeploymentRecord> = {}): DeploymentRecord {
  return {
    id,
    app: "hello",
    group: "web",
    version: "2.0",
    release: R2,
    previous_release: R1,
    kind: "deploy",
    strategy: "rolling",
    batch: "25%",
    max_failures: 1,
    state: "running",
    error: null,
    waves: 2,
    created_at: T0,
    finished_at: null,
    ...patch,
  };
}

function member(id: string, name: string, wave: number): DeploymentServerRecord {
  return { deployment_id: id, server: name, wave, state: "pending", error: null, steps: [] };
}

/** The behaviour every DeploymentRepo implementation must have. */
export function runDeploymentRepoContract(options: DeploymentRepoContractOptions): void {
  const cases: Record<string, (repo: DeploymentRepo) => Promise<void>> = {
    "a deployment and its servers read back whole": async (repo) => {
      const d = deployment("d-1");
      await repo.insert(d, [member("d-1", "web-2", 1), member("d-1", "web-1", 0)]);
      assert.deepEqual(await repo.get("d-1"), d);
      assert.deepEqual(await repo.servers("d-1"), [
        member("d-1", "web-1", 0),
        member("d-1", "web-2", 1),
      ]);
      assert.equal(await repo.get("d-2"), null);
      assert.deepEqual(await repo.servers("d-2"), []);
    },
    "a second deployment with the same id stores nothing more": async (repo) => {
      await repo.insert(deployment("d-1"), [member("d-1", "web-1", 0)]);
      await assert.rejects(repo.insert(deployment("d-1"), [member("d-1", "web-9", 0)]));
      assert.deepEqual(
        (await repo.servers("d-1")).map((s) => s.server),
        ["web-1"],
      );
    },
    "list is newest first, filtered by app and group, with a limit": async (repo) => {
      await repo.insert(deployment("d-1", { created_at: T0 }), []);
      await repo.insert(deployment("d-2", { created_at: T0 + 1, group: "api" }), []);
      await repo.insert(deployment("d-3", { created_at: T0 + 2, app: "other" }), []);
      await repo.insert(deployment("d-4", { created_at: T0 + 2 }), []);
      const ids = async (filter?: Parameters<DeploymentRepo["list"]>[0]) =>
        (await repo.list(filter)).map((d) => d.id);
      assert.deepEqual(await ids(), ["d-4", "d-3", "d-2", "d-1"], "ties: later insert first");
      assert.deepEqual(await ids({ app: "hello" }), ["d-4", "d-2", "d-1"]);
      assert.deepEqual(await ids({ app: "hello", group: "web" }), ["d-4", "d-1"]);
      assert.deepEqual(await ids({ limit: 2 }), ["d-4", "d-3"]);
    },
    "running finds the running deployment of (app, group) only": async (repo) => {
      await repo.insert(deployment("d-1", { state: "succeeded", finished_at: T0 + 5 }), []);
      await repo.insert(deployment("d-2"), []);
      await repo.insert(deployment("d-3", { group: "api" }), []);
      assert.equal((await repo.running("hello", "web"))?.id, "d-2");
      assert.equal((await repo.running("hello", "api"))?.id, "d-3");
      assert.equal(await repo.running("other", "web"), null);
      await repo.update("d-2", { state: "failed", error: "[deploy] boom", finished_at: T0 + 9 });
      assert.equal(await repo.running("hello", "web"), null);
      assert.deepEqual(
        await repo.get("d-2"),
        deployment("d-2", { state: "failed", error: "[deploy] boom", finished_at: T0 + 9 }),
      );
    },
    "server updates change the named servers only and keep steps in order": async (repo) => {
      await repo.insert(deployment("d-1"), [
        member("d-1", "a", 0),
        member("d-1", "b", 0),
        member("d-1", "c", 1),
      ]);
      await repo.updateServers("d-1", ["a", "b"], { state: "draining" });
      const steps = [
        {
          name: "fetch",
          state: "ok" as const,
          started_at: "2024-03-01T00:00:00.000Z",
          duration_ms: 12,
        },
        {
          name: "hooks",
          state: "failed" as const,
          started_at: "2024-03-01T00:00:01.000Z",
          duration_ms: null,
          output: "exit 1\n",
          error: "[agent] hook failed",
        },
      ];
      await repo.updateServer("d-1", "b", { state: "failed", error: "hook", steps });
      await repo.updateServers("d-1", [], { state: "skipped" });
      await repo.updateServers("d-1", ["c"], {});
      assert.deepEqual(await repo.servers("d-1"), [
        { ...member("d-1", "a", 0), state: "draining" },
        { ...member("d-1", "b", 0), state: "failed", error: "hook", steps },
        member("d-1", "c", 1),
      ]);
    },
  };

  describe("DeploymentRepo contract", () => {
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
