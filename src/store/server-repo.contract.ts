import assert from "node:assert/strict";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { ServerRecord, ServerRepo } from "./store.js";

export interface ServerRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: ServerRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const R1 = `sha256:${"1".repeat(64)}`;

export function server(name: string, patch: Partial<ServerRecord> = {}): ServerRecord {
  return {
    id: `id-${name}`,
    name,
    group: "web",
    address: `127.70.1.${name.length}`,
    provider_id: null,
    state: "joined",
    root: null,
    token_hash: null,
    token_issued_at: null,
    pending_token_hash: null,
    previous_token_hash: null,
    previous_token_until: null,
    rotate_requested_at: null,
    join_token_hash: null,
    join_expires_at: null,
    current_release: null,
    app_port: null,
    app_healthy: false,
    in_service: false,
    last_heartbeat: null,
    image: null,
    launched_at: 1_700_000_000_000,
    ready_at: null,
    in_service_at: null,
    ...patch,
  };
}

/** The behaviour every ServerRepo implementation must have. */
export function runServerRepoContract(options: ServerRepoContractOptions): void {
  const cases: Record<string, (repo: ServerRepo) => Promise<void>> = {
    "an issued join token finds its live server, and a terminated one is not found": async (
      repo,
    ) => {
      await repo.insert(server("web-7", { state: "launching", join_token_hash: "jt" }));
      assert.equal((await repo.getByJoinTokenHash("jt"))?.name, "web-7");
      await repo.update("web-7", { state: "terminated" });
      assert.equal(await repo.getByJoinTokenHash("jt"), null);
      assert.equal(await repo.getByJoinTokenHash("nope"), null);
    },
    "a server reads back whole, booleans and epoch milliseconds included": async (repo) => {
      const s = server("web-1", {
        provider_id: "nova-1",
        root: "/srv/web-1",
        token_hash: "h1",
        token_issued_at: 1_700_000_050_000,
        pending_token_hash: "p1",
        previous_token_hash: "o1",
        previous_token_until: 1_700_000_400_000,
        rotate_requested_at: 1_700_000_060_000,
        current_release: R1,
        join_token_hash: "j1",
        join_expires_at: 1_700_000_300_000,
        app_port: 8080,
        app_healthy: true,
        in_service: true,
        last_heartbeat: 1_700_000_123_456,
        image: "img-1",
        ready_at: 1_700_000_100_000,
        in_service_at: 1_700_000_200_000,
      });
      await repo.insert(s);
      assert.deepEqual(await repo.get("web-1"), s);
      assert.equal(await repo.get("web-2"), null);
    },
    "a second server of the same name is a conflict": async (repo) => {
      await repo.insert(server("web-1"));
      await assert.rejects(repo.insert(server("web-1", { id: "other" })), { code: "conflict" });
    },
    "a server is found by its token hash": async (repo) => {
      await repo.insert(server("web-1", { token_hash: "h1" }));
      await repo.insert(server("web-2", { token_hash: "h2" }));
      assert.equal((await repo.getByTokenHash("h2"))?.name, "web-2");
      assert.equal(await repo.getByTokenHash("h3"), null);
    },
    "a server is found by the new token of a rotation and by the one it replaced": async (repo) => {
      await repo.insert(server("web-1", { token_hash: "h1", pending_token_hash: "p1" }));
      await repo.insert(server("web-2", { token_hash: "h2", previous_token_hash: "o2" }));
      assert.equal((await repo.getByTokenHash("p1"))?.name, "web-1");
      assert.equal((await repo.getByTokenHash("o2"))?.name, "web-2");
      await repo.update("web-1", { token_hash: "p1", pending_token_hash: null });
      assert.equal((await repo.getByTokenHash("p1"))?.token_hash, "p1");
    },
    "list leaves terminated servers out, by group, ordered by name": async (repo) => {
      await repo.insert(server("web-2"));
      await repo.insert(server("web-1"));
      await repo.insert(server("web-3", { state: "terminated" }));
      await repo.insert(server("api-1", { group: "api" }));
      assert.deepEqual(
        (await repo.list()).map((s) => s.name),
        ["api-1", "web-1", "web-2"],
      );
      assert.deepEqual(
        (await repo.list("web")).map((s) => s.name),
        ["web-1", "web-2"],
      );
      assert.deepEqual(await repo.list("none"), []);
      assert.equal((await repo.get("web-3"))?.state, "terminated", "get still finds it");
    },
    "update sets only the given fields": async (repo) => {
      await repo.insert(server("web-1", { app_port: 8080 }));
      await repo.update("web-1", { app_healthy: true, last_heartbeat: 5, group: "api" });
      await repo.update("web-1", { in_service: true, app_port: null });
      assert.deepEqual(
        await repo.get("web-1"),
        server("web-1", {
          app_healthy: true,
          in_service: true,
          last_heartbeat: 5,
          group: "api",
          app_port: null,
        }),
      );
      await repo.update("web-1", {});
      await repo.update("nobody", { app_healthy: true });
      assert.equal(await repo.get("nobody"), null);
    },
    "used addresses are those of live servers": async (repo) => {
      await repo.insert(server("a", { address: "127.70.1.1" }));
      await repo.insert(server("b", { address: "127.70.1.2", state: "terminated" }));
      assert.deepEqual(await repo.usedAddresses(), ["127.70.1.1"]);
    },
  };

  describe("ServerRepo contract", () => {
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
