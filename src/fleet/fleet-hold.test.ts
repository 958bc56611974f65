import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import type { Coordinator } from "../coord/coordinator.js";
import { EtcdClient } from "../coord/etcd/etcd-client.js";
import { createEtcdCoordinator } from "../coord/etcd/etcd-coordinator.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { systemClock } from "../lib/clock.js";
import { ENGINES, engineSkipReason } from "../lib/engine-tests.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { Store } from "../store/store.js";
import { emptyServer, Fleet } from "./fleet.js";

const R1 = `sha256:${"1".repeat(64)}`;
const R2 = `sha256:${"2".repeat(64)}`;
const release = (id: string) => ({
  id,
  app: "hello",
  version: id.slice(7, 11),
  size: 1,
  artifact_path: `/v1/releases/${id}/artifact`,
});
const octet = () => 10 + Math.floor(Math.random() * 240);

const etcdSkip = await engineSkipReason("etcd", () =>
  new EtcdClient({ endpoints: ENGINES.etcdEndpoints }).get("/probe"),
);

/**
 * Two control-plane replicas on one store: `a` runs a deployment's wave and holds
 * web-1 out; `b` hears web-1's final report on the new release (the agent's request
 * reached it) while the wave is drained.
 */
async function heldWhileAnotherReplicaHearsTheReport(
  store: Store,
  a: Coordinator,
  b: Coordinator,
): Promise<void> {
  const balancer = createLocalBalancer({ host: `127.93.${octet()}.1` });
  const replica = (coordinator: Coordinator) =>
    new Fleet({
      store,
      coordinator,
      balancer,
      clock: systemClock,
      ensurePool: async (group) => void (await balancer.ensurePool(group)),
      heartbeatTimeoutMs: 60_000,
      drainMs: 100,
      audit: async () => undefined,
    });
  const [fleetA, fleetB] = [replica(a), replica(b)];
  try {
    await store.servers.insert({
      ...emptyServer("web-1", "web", "127.93.0.2", Date.now(), "hash"),
      state: "ready",
      current_release: R1,
      app_healthy: true,
      app_port: 3000,
    });
    await a.setDesired("web-1", release(R1));
    await fleetA.sync("web-1");
    assert.equal((await store.servers.get("web-1"))?.in_service, true, "in service on R1");

    await fleetA.holdOut(["web-1"]);
    assert.equal((await store.servers.get("web-1"))?.in_service, false, "drained by the wave");
    const desired = await a.setDesired("web-1", release(R2));
    await fleetB.report((await store.servers.get("web-1"))!, {
      generation: desired.generation,
      phase: "converged",
      release_id: R2,
      current_release: R2,
      steps: [],
      app_port: 3000,
    });
    await fleetB.sync("web-1");
    assert.equal(
      (await store.servers.get("web-1"))?.in_service,
      false,
      "the other replica keeps it out while the wave holds it",
    );

    await fleetA.letIn(["web-1"]);
    assert.equal((await store.servers.get("web-1"))?.in_service, true, "back once let in");
  } finally {
    await balancer.close();
  }
}

// Regression: the servers a wave held out lived in the deploying replica's memory, so another
// replica that heard a held server's final report put it back in service while its wave was
// still drained.
test("a server held out by a wave is not put back in service by the replica that hears its report (embedded)", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: async (id) => release(id),
  });
  await heldWhileAnotherReplicaHearsTheReport(store, coordinator, coordinator);
  await store.close();
});

test(
  "a server held out by a wave is not put back in service by the replica that hears its report (etcd)",
  { skip: etcdSkip ?? false },
  async () => {
    const store = createSqliteStore({ path: ":memory:" });
    const prefix = `/strata-test/${randomBytes(6).toString("hex")}`;
    const open = () => createEtcdCoordinator({ endpoints: ENGINES.etcdEndpoints, prefix });
    const [a, b] = await Promise.all([open(), open()]);
    try {
      await heldWhileAnotherReplicaHearsTheReport(store, a, b);
    } finally {
      await Promise.all([a.close(), b.close()]);
      await store.close();
    }
  },
);
