import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { readCredentials, rotateAgentToken, saveCredentials } from "./agent-credentials.js";
import { describeRelease, Fleet } from "./fleet.js";

const DAY = 86_400_000;

async function joinedFleet() {
  let now = Date.UTC(2026, 0, 1);
  const clock = { now: () => now, sleep: async () => {} };
  const store = createSqliteStore({ path: ":memory:" });
  const balancer = createLocalBalancer({ host: "127.86.0.1" });
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const audits: string[] = [];
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock,
    clusterJoinToken: "cluster",
    ensurePool: async () => undefined,
    audit: async (action, subject) => void audits.push(`${action} ${subject}`),
    tokenRotateAfterMs: 30 * DAY,
    tokenGraceMs: 60_000,
  });
  const join = (name: string) =>
    fleet.join({ join_token: "cluster", name, group: "web", address: "127.86.1.2" });
  const { token } = await join("web-1");
  return {
    fleet,
    store,
    audits,
    token,
    join,
    advance: (ms: number) => void (now += ms),
    async close() {
      await balancer.close();
      await store.close();
    },
  };
}

const rejected = { code: "unauthorized" };

test("a heartbeat asks for a rotation once the token is rotate_after old", async () => {
  const t = await joinedFleet();
  try {
    const server = await t.fleet.authenticate(t.token);
    assert.equal(t.fleet.rotationDue(server), false);
    t.advance(30 * DAY - 1);
    assert.equal(t.fleet.rotationDue(await t.fleet.authenticate(t.token)), false);
    t.advance(1);
    assert.equal(t.fleet.rotationDue(await t.fleet.authenticate(t.token)), true);
  } finally {
    await t.close();
  }
});

test("the old token works until the new one is used once, then only for the grace", async () => {
  const t = await joinedFleet();
  try {
    t.advance(31 * DAY);
    const fresh = await t.fleet.rotateToken(await t.fleet.authenticate(t.token));
    // Not used yet: the agent may have been killed before it saved the new token.
    t.advance(10 * 60_000);
    assert.equal((await t.fleet.authenticate(t.token)).name, "web-1");
    const promoted = await t.fleet.authenticate(fresh);
    assert.equal(promoted.name, "web-1");
    assert.equal(
      t.fleet.rotationDue(promoted),
      false,
      "the new token's age starts at its first use",
    );
    t.advance(60_000);
    assert.equal((await t.fleet.authenticate(t.token)).name, "web-1", "in grace");
    t.advance(1);
    await assert.rejects(t.fleet.authenticate(t.token), rejected);
    assert.equal((await t.fleet.authenticate(fresh)).name, "web-1");
    assert.deepEqual(
      t.audits.filter((a) => a.startsWith("token.agent")),
      ["token.agent.issue web-1", "token.agent.rotate web-1"],
    );
  } finally {
    await t.close();
  }
});

test("a second rotation before the first token was used replaces it (an agent killed before saving)", async () => {
  const t = await joinedFleet();
  try {
    const server = await t.fleet.authenticate(t.token);
    const lost = await t.fleet.rotateToken(server);
    const second = await t.fleet.rotateToken(await t.fleet.authenticate(t.token));
    await assert.rejects(t.fleet.authenticate(lost), rejected);
    assert.equal((await t.fleet.authenticate(second)).name, "web-1");
  } finally {
    await t.close();
  }
});

test("concurrent first uses of a new token promote it once", async () => {
  const t = await joinedFleet();
  try {
    const fresh = await t.fleet.rotateToken(await t.fleet.authenticate(t.token));
    await Promise.all([1, 2, 3].map(() => t.fleet.authenticate(fresh)));
    assert.equal(t.audits.filter((a) => a.startsWith("token.agent.rotate ")).length, 1);
    const row = await t.store.servers.get("web-1");
    assert.equal(row?.pending_token_hash, null);
    assert.notEqual(row?.previous_token_hash, null);
  } finally {
    await t.close();
  }
});

test("strata tokens rotate makes the next heartbeat ask, for one server or a group; revoke ends every token", async () => {
  const t = await joinedFleet();
  try {
    const other = (await t.join("web-2")).token;
    assert.deepEqual(await t.fleet.requestRotation({ server: "web-1" }), ["web-1"]);
    assert.equal(t.fleet.rotationDue(await t.fleet.authenticate(t.token)), true);
    assert.equal(t.fleet.rotationDue(await t.fleet.authenticate(other)), false);
    assert.deepEqual(await t.fleet.requestRotation({ group: "web" }), ["web-1", "web-2"]);
    await assert.rejects(t.fleet.requestRotation({ group: "api" }), { code: "not_found" });
    assert.equal(
      t.audits.filter((a) => a.startsWith("token.agent.rotate_request")).length,
      3,
      "each request is audited",
    );
    const fresh = await t.fleet.rotateToken(await t.fleet.authenticate(t.token));
    await t.fleet.authenticate(fresh);
    await t.fleet.revoke("web-1");
    await assert.rejects(t.fleet.authenticate(fresh), rejected);
    await assert.rejects(t.fleet.authenticate(t.token), rejected, "nor the one in grace");
  } finally {
    await t.close();
  }
});

test("the agent saves a new token before it uses it; a failed save keeps the old one", async () => {
  const root = await mkdtemp(join(tmpdir(), "strata-credentials-"));
  try {
    await saveCredentials(root, { name: "web-1", token: "old", release_key: "key" });
    assert.equal((await stat(join(root, "agent.json"))).mode & 0o777, 0o600);
    const order: string[] = [];
    let inUse = "old";
    await rotateAgentToken(
      {
        issue: async () => (order.push("issue"), "new"),
        save: async (token) => {
          order.push("save");
          await saveCredentials(root, { name: "web-1", token, release_key: "key" });
        },
        use: (token) => (order.push("use"), (inUse = token)),
      },
      root,
    );
    assert.deepEqual(order, ["issue", "save", "use"]);
    assert.equal(inUse, "new");
    assert.deepEqual(await readCredentials(root), {
      name: "web-1",
      token: "new",
      release_key: "key",
    });

    const failing = rotateAgentToken(
      {
        issue: async () => "newer",
        save: async () => {
          throw new Error("disk full");
        },
        use: (token) => void (inUse = token),
      },
      root,
    );
    await assert.rejects(failing, /disk full/);
    assert.equal(inUse, "new", "a token that was not saved is never used");
    assert.equal(JSON.parse(await readFile(join(root, "agent.json"), "utf8")).token, "new");
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
