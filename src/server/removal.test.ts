// Regression: `group rm` left the desired state of the servers it terminated, and `app rm`
// left the app's traffic and forecasts. Both on SQLite and PostgreSQL; a run cut short
// (a crash half way) is finished by running it again.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import pg from "pg";
import { createLocalArtifactStore } from "../artifact/local/local-store.js";
import { createLocalBalancer } from "../balancer/local/local-balancer.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import { describeRelease, emptyServer, Fleet } from "../fleet/fleet.js";
import { FleetOps } from "../fleet/fleet-ops.js";
import { systemClock } from "../lib/clock.js";
import { ENGINES, engineSkipReason } from "../lib/engine-tests.js";
import type { Provider } from "../provider/provider.js";
import { createPostgresStore } from "../store/postgres/postgres-store.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { Store } from "../store/store.js";
import { createRemoval } from "./removal.js";

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);
const RELEASE = `sha256:${"a".repeat(64)}`;

// The servers here were never launched through a provider (no provider id): it is not called.
const unusedProvider = new Proxy({} as Provider, {
  get: (_, key) => () => {
    throw new Error(`provider.${String(key)} was called`);
  },
});

const postgresSkip = await engineSkipReason("PostgreSQL", async () => {
  const client = new pg.Client({ connectionString: ENGINES.postgresUrl });
  await client.connect();
  await client.end();
});

/** The removal over real parts on `store`; `crashAt` makes that audit action throw once. */
async function removalOn(store: Store) {
  const dir = await mkdtemp(join(tmpdir(), "strata-removal-"));
  const balancer = createLocalBalancer({ host: "127.96.0.1" });
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const crash = { at: null as string | null };
  const audit = async (action: string) => {
    if (action !== crash.at) return;
    crash.at = null;
    throw new Error(`crash at ${action}`);
  };
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock: systemClock,
    ensurePool: async (group) => void (await balancer.ensurePool(group)),
    audit,
  });
  const fleetOps = new FleetOps({
    store,
    fleet,
    provider: unusedProvider,
    clock: systemClock,
    audit,
    agent: () => ({ server: "http://127.96.0.1:1" }),
  });
  const artifacts = createLocalArtifactStore({ dir });
  const removal = createRemoval({ store, coordinator, artifacts, balancer, fleetOps, audit });
  await store.releases.insert({
    id: RELEASE,
    app: "hello",
    version: "1",
    size: 1,
    file_count: 1,
    created_at: new Date(T0).toISOString(),
  });
  for (const [name, group] of [
    ["web-1", "web"],
    ["web-2", "web"],
    ["api-1", "api"],
  ] as const) {
    await store.groups.ensure(group);
    await store.servers.insert({
      ...emptyServer(name, group, `127.96.0.${name.endsWith("1") ? 2 : 3}`, T0, `hash-${name}`),
      state: "ready",
    });
    await coordinator.setDesired(name, await describeRelease(store, RELEASE), {
      run: { stopped: true },
    });
  }
  return {
    removal,
    crash,
    close: async () => {
      await balancer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function traffic(store: Store, app: string) {
  await store.traffic.add(app, [{ minute: T0, total: 5, s2xx: 5, s3xx: 0, s4xx: 0, s5xx: 0 }]);
  await store.forecasts.insert({
    app,
    origin: T0 + H,
    createdAt: T0 + H,
    trigger: "manual",
    requestedModel: "auto",
    model: "profile",
    zone: "UTC",
    historyFrom: T0,
    historyHours: 1,
    missingHours: 0,
    mean: [1],
    p90: [2],
  });
  await store.forecasts.addEvent({ app, from: T0, to: T0 + H, factor: 2, note: "", createdAt: T0 });
}

function removalCases(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>) {
  describe(`group rm and app rm remove what belongs to them (${name})`, () => {
    test("group rm --force removes the desired state of the servers it terminates, also when rerun after a crash half way", async () => {
      const { store, close } = await open();
      const t = await removalOn(store);
      try {
        // Cut short after the first server terminated: it is no longer listed on the rerun.
        t.crash.at = "server.terminate";
        await assert.rejects(t.removal.removeGroup("web", true), /crash at server.terminate/);
        assert.ok(await store.groups.get("web"), "the group is still there to remove again");
        await t.removal.removeGroup("web", true);
        assert.equal(await store.groups.get("web"), null);
        assert.equal(await store.desired.get("web-1"), null);
        assert.equal(await store.desired.get("web-2"), null);
        assert.equal((await store.desired.get("api-1"))?.release, RELEASE, "other groups kept");
      } finally {
        await t.close();
        await close();
      }
    });

    test("app rm removes the app's traffic and forecasts, also when rerun after a crash half way", async () => {
      const { store, close } = await open();
      const t = await removalOn(store);
      try {
        await t.removal.removeGroup("web", true);
        await t.removal.removeGroup("api", true);
        await traffic(store, "hello");
        await traffic(store, "other");
        // Cut short after the traffic and forecasts went, before the releases did.
        t.crash.at = "release.rm";
        await assert.rejects(t.removal.removeApp("hello"), /crash at release.rm/);
        await t.removal.removeApp("hello").catch((err: Error) => {
          // The release itself went before its audit entry: what is left is the secrets (none).
          assert.match(err.message, /no app hello/);
        });
        assert.deepEqual(await store.traffic.minutes("hello", 0, T0 + H), []);
        assert.equal(await store.forecasts.latest("hello"), null);
        assert.deepEqual(await store.forecasts.events("hello"), []);
        assert.deepEqual(await store.releases.list("hello"), []);
        assert.equal((await store.traffic.minutes("other", 0, T0 + H)).length, 1);
        assert.ok(await store.forecasts.latest("other"), "other apps kept");
      } finally {
        await t.close();
        await close();
      }
    });

    test("app rm removes an app that has only traffic and forecasts (it answered no app and kept them)", async () => {
      const { store, close } = await open();
      const t = await removalOn(store);
      try {
        await traffic(store, "ingested");
        await t.removal.removeApp("ingested");
        assert.deepEqual(await store.traffic.minutes("ingested", 0, T0 + H), []);
        assert.equal(await store.forecasts.latest("ingested"), null);
        await assert.rejects(t.removal.removeApp("ingested"), /no app ingested/);
        await assert.rejects(t.removal.removeApp("never"), /no app never/);
      } finally {
        await t.close();
        await close();
      }
    });
  });
}

removalCases("SQLite", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  return { store, close: () => store.close() };
});

if (postgresSkip) {
  test("group rm and app rm on PostgreSQL", { skip: postgresSkip }, () => {});
} else {
  removalCases("PostgreSQL", async () => {
    const schema = `t_${randomBytes(6).toString("hex")}`;
    const store = await createPostgresStore({
      url: ENGINES.postgresUrl,
      schema,
      maxConnections: 4,
    });
    return {
      store,
      close: async () => {
        await store.pool.query(`DROP SCHEMA ${schema} CASCADE`);
        await store.close();
      },
    };
  });
}
