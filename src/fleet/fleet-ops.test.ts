import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { systemClock } from "../lib/clock.js";
import type { Provider } from "../provider/provider.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { describeRelease, emptyServer, Fleet } from "./fleet.js";
import { FleetOps } from "./fleet-ops.js";

const octet = () => 10 + Math.floor(Math.random() * 240);
const prefix = `127.${octet()}.${octet()}`;

// The provider is the seam to the IaaS; this test only retires servers the
// provider never launched (no provider id), so it must not be called at all.
const unusedProvider = new Proxy({} as Provider, {
  get: (_, key) => () => {
    throw new Error(`provider.${String(key)} was called`);
  },
});

describe("FleetOps.scale and down", () => {
  const store = createSqliteStore({ path: ":memory:" });
  const balancer = createLocalBalancer({ host: `${prefix}.1` });
  const audit = async () => undefined;
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock: systemClock,
    ensurePool: async (group) => void (await balancer.ensurePool(group)),
    audit,
  });
  const ops = new FleetOps({
    store,
    fleet,
    provider: unusedProvider,
    clock: systemClock,
    audit,
    agent: () => ({ server: "http://127.0.0.1:1" }),
  });
  const app = http.createServer((_, res) => res.end("ok"));
  let port = 0;

  before(async () => {
    await new Promise<void>((r) => app.listen(0, `${prefix}.2`, r));
    port = (app.address() as AddressInfo).port;
    const release = `sha256:${"a".repeat(64)}`;
    await store.releases.insert({
      id: release,
      app: "hello",
      version: "1",
      size: 1,
      file_count: 1,
      created_at: new Date().toISOString(),
    });
    // web-2 is out of service; the others serve.
    for (const [name, healthy] of [
      ["web-1", true],
      ["web-2", false],
      ["web-9", true],
      ["web-10", true],
    ] as const) {
      await store.servers.insert({
        ...emptyServer(name, "web", `${prefix}.2`, 0, "hash-" + name),
        state: "ready",
        current_release: release,
        app_port: port,
        app_healthy: healthy,
        last_heartbeat: Date.now(),
      });
      await coordinator.setDesired(name, await describeRelease(store, release));
      await fleet.sync(name);
    }
  });
  after(async () => {
    await balancer.close();
    app.close();
    await store.close();
  });

  test("scaling in retires out-of-service servers first, then the newest names, out of the balancer", async () => {
    assert.deepEqual((await balancer.members("web")).map((m) => m.id).sort(), [
      "web-1",
      "web-10",
      "web-9",
    ]);
    const view = await ops.scale("web", 2);
    assert.deepEqual(view.terminated, ["web-2", "web-10"]);
    assert.deepEqual(view.launched, []);
    assert.deepEqual(
      (await store.servers.list("web")).map((s) => s.name),
      ["web-1", "web-9"],
    );
    assert.deepEqual((await balancer.members("web")).map((m) => m.id).sort(), ["web-1", "web-9"]);
    const retired = await store.servers.get("web-10");
    assert.equal(retired?.state, "terminated");
    assert.equal(retired?.token_hash, null, "a retired server's agent token stops working");
  });

  test("fleet down empties the balancer too", async () => {
    assert.deepEqual((await ops.down("web")).sort(), ["web-1", "web-9"]);
    assert.deepEqual(await balancer.members("web"), []);
    assert.deepEqual(await store.servers.list("web"), []);
  });

  test("bad counts and group names are refused", async () => {
    await assert.rejects(ops.scale("web", -1), /count/);
    await assert.rejects(ops.scale("web", 1.5), /count/);
    await assert.rejects(ops.scale("Web", 1), /group/);
    await assert.rejects(ops.up("web", 251), /count/);
  });
});
