import assert from "node:assert/strict";
import { test } from "node:test";
import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { runCoordinatorContract } from "../coordinator.contract.js";
import { createLocalCoordinator } from "./local-coordinator.js";

const release = (id: string) => ({
  id,
  app: "hello",
  version: id.slice(7, 11),
  size: 1,
  artifact_path: `/v1/releases/${id}/artifact`,
});

runCoordinatorContract("local (SQLite + in-memory wake-ups)", {
  async create() {
    const store = createSqliteStore({ path: ":memory:" });
    const open = () =>
      createLocalCoordinator({
        desired: store.desired,
        describeRelease: async (id) => release(id),
      });
    const coordinator = open();
    return {
      coordinator,
      peer: coordinator,
      release,
      reopen: async () => open(),
      close: () => store.close(),
    };
  },
  skip: {
    "a member renewed on either replica stays alive past its lease, and lapses untouched":
      "one embedded control plane: online and offline come from the store's last heartbeat (Fleet's sweep)",
  },
});

// Regression (bench/wakeup.bench.ts): every woken long poll re-read the store, twice per server,
// inside the one microtask run that a deploy to many servers is; 1,000 watchers waited ~300 ms.
test("a change hands its state to the woken watchers without re-reading the store", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const names = Array.from({ length: 20 }, (_, i) => `s${i}`);
  let describes = 0;
  const coordinator = createLocalCoordinator({
    desired: store.desired,
    describeRelease: async (id) => (describes++, release(id)),
  });
  const id = `sha256:${"3".repeat(64)}`;
  const watchers = names.map((name) => coordinator.watch(name, 0, 10_000));
  await new Promise((resolve) => setImmediate(resolve));
  const get = store.desired.get;
  let reads = 0;
  store.desired.get = (name) => (reads++, get(name));
  await Promise.all(names.map((name) => coordinator.setDesired(name, release(id))));
  const seen = await Promise.all(watchers);
  assert.ok(seen.every((s) => s.generation === 1 && s.release?.id === id));
  assert.equal(reads, names.length, "one read per setDesired, none per woken watcher");
  assert.equal(describes, 0);
  await store.close();
});
