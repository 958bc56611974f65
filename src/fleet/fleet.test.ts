import assert from "node:assert/strict";
import { test } from "node:test";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { systemClock } from "../lib/clock.js";
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
