import assert from "node:assert/strict";
import { test } from "node:test";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import { randomBytes } from "node:crypto";
import { waitFor } from "../../test/e2e/harness.js";
import { EtcdClient } from "../coord/etcd/etcd-client.js";
import { createEtcdCoordinator } from "../coord/etcd/etcd-coordinator.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { ENGINES, engineSkipReason } from "../lib/engine-tests.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { describeRelease, emptyServer, Fleet } from "./fleet.js";

const octet = () => 10 + Math.floor(Math.random() * 240);

// Regression: after a control-plane restart the first sweep found every heartbeat on record
// older than the timeout and took the whole fleet out of service (503s through the balancer).
test("a restarted fleet gives agents one heartbeat timeout before it calls them offline", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const balancer = createLocalBalancer({ host: `127.${octet()}.${octet()}.1` });
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const offline: number[] = [];
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock: systemClock,
    ensurePool: async () => undefined,
    heartbeatTimeoutMs: 300,
    audit: async (action) => void (action === "server.offline" && offline.push(Date.now())),
  });
  const hourAgo = Date.now() - 3_600_000;
  await store.servers.insert({
    ...emptyServer("web-1", "web", "127.0.0.2", hourAgo, "hash"),
    state: "ready",
    last_heartbeat: hourAgo,
  });
  const started = Date.now();
  fleet.start();
  const deadline = Date.now() + 30_000;
  while (offline.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(offline.length > 0, "the server was never called offline");
  fleet.stop();
  assert.ok(offline[0]! - started >= 300, `offline after ${offline[0]! - started} ms`);
  assert.equal((await store.servers.get("web-1"))?.state, "offline");
  await balancer.close();
  await store.close();
});

// Regression: Fleet.sync swallowed every error, so a balancer that failed to drain a member
// left the server half way with nothing in the log.
test("a failed service decision is logged with the server named", async (t) => {
  const store = createSqliteStore({ path: ":memory:" });
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const real = createLocalBalancer({ host: `127.${octet()}.${octet()}.1` });
  const balancer = {
    ...real,
    removeMember: async () => {
      throw new Error("pool web is gone");
    },
  };
  const logged: string[] = [];
  t.mock.method(console, "error", (line: string) => void logged.push(line));
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock: systemClock,
    ensurePool: async () => undefined,
    audit: async () => undefined,
  });
  await store.servers.insert({
    ...emptyServer("web-1", "web", "127.0.0.2", Date.now(), "hash"),
    state: "ready",
    in_service: true,
    app_healthy: false,
  });
  await fleet.sync("web-1");
  assert.match(logged.join("\n"), /\[fleet\] web-1: cannot put it in .*: pool web is gone/);
  await real.close();
  await store.close();
});

const etcdSkip = await engineSkipReason("etcd", () =>
  new EtcdClient({ endpoints: ENGINES.etcdEndpoints }).get("/probe"),
);

// Regression: each replica swept by the store's last heartbeat, a timestamp written with the
// clock of whichever replica heard it; a replica whose clock ran ahead called every server
// offline that heartbeat to the other. With etcd the membership lease decides, for both.
test(
  "with etcd membership, a replica whose clock runs ahead keeps a server online that heartbeats to the other, and both see it lapse",
  { skip: etcdSkip ?? false },
  async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const prefix = `/strata-test/${randomBytes(6).toString("hex")}`;
    const open = () => createEtcdCoordinator({ endpoints: ENGINES.etcdEndpoints, prefix });
    const [a, b] = await Promise.all([open(), open()]);
    const balancer = createLocalBalancer({ host: `127.85.${octet()}.1` });
    const offline: string[] = [];
    // a's sweeps that could call web-1 offline: those after its start-up grace (3 s).
    let startedA = Infinity;
    let sweptA = 0;
    const membershipOf = (coordinator: typeof a, name: string) =>
      name === "b"
        ? coordinator
        : {
            touch: (member: string, ttlMs: number) => coordinator.touch(member, ttlMs),
            members: () => {
              if (Date.now() > startedA + 3000) sweptA++;
              return coordinator.members();
            },
          };
    const replica = (coordinator: typeof a, clock: Clock, name: string) =>
      new Fleet({
        store,
        coordinator,
        membership: membershipOf(coordinator, name),
        balancer,
        clock,
        ensurePool: async () => undefined,
        heartbeatTimeoutMs: 3000,
        audit: async (action) => void (action === "server.offline" && offline.push(name)),
      });
    const ahead: Clock = { ...systemClock, now: () => Date.now() + 3_600_000 };
    const fleetA = replica(a, ahead, "a");
    const fleetB = replica(b, systemClock, "b");
    await store.servers.insert({
      ...emptyServer("web-1", "web", "127.85.0.2", Date.now(), "hash"),
      state: "ready",
    });
    const beat = async () =>
      fleetB.heartbeat((await store.servers.get("web-1"))!, {
        current_release: null,
        app_healthy: false,
        app_port: null,
      });
    await beat();
    startedA = Date.now();
    fleetA.start();
    fleetB.start();
    try {
      // Heartbeats to b only, until a has swept three times past its grace.
      await waitFor(
        "three of a's sweeps past its grace",
        async () => {
          await beat();
          return sweptA >= 3;
        },
        60_000,
      );
      assert.deepEqual(offline, [], "online for both while it heartbeats");
      assert.notEqual((await store.servers.get("web-1"))?.state, "offline");
      await waitFor("the lease to lapse", async () => offline.length > 0, 30_000);
      assert.equal((await store.servers.get("web-1"))?.state, "offline");
    } finally {
      fleetA.stop();
      fleetB.stop();
      await Promise.all([a.close(), b.close()]);
      await balancer.close();
      await store.close();
    }
  },
);
