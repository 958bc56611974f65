import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { ENGINES, engineSkipReason } from "../lib/engine-tests.js";
import { EtcdClient } from "./etcd/etcd-client.js";
import { createEtcdCoordinator } from "./etcd/etcd-coordinator.js";
import { lead } from "./leadership.js";

const endpoints = ENGINES.etcdEndpoints;
const skip = await engineSkipReason("etcd", () => new EtcdClient({ endpoints }).get("/probe"));
const open = (prefix: string) => createEtcdCoordinator({ endpoints, prefix, leaseTtlMs: 1000 });

test(
  "the work runs on one replica at a time and moves when its leader stops",
  { skip: skip ?? false },
  async () => {
    const prefix = `/strata-test/${randomBytes(6).toString("hex")}`;
    const [a, b] = await Promise.all([open(prefix), open(prefix)]);
    const running: string[] = [];
    let movedToB: () => void = () => {};
    const bLeads = new Promise<void>((resolve) => (movedToB = resolve));
    const replica = (name: string, cluster: typeof a, stop: AbortController) =>
      lead({
        cluster,
        name: "scheduler",
        owner: name,
        signal: stop.signal,
        start: async () => {
          running.push(name);
          if (name === "b") movedToB();
          return async () => void running.splice(running.indexOf(name), 1);
        },
      });
    const stopA = new AbortController();
    const stopB = new AbortController();
    const leadingA = replica("a", a, stopA);
    await new Promise<void>((resolve) => {
      const check = () => (running.includes("a") ? resolve() : setImmediate(check));
      check();
    });
    const leadingB = replica("b", b, stopB);
    assert.deepEqual(running, ["a"]);
    stopA.abort();
    await leadingA;
    await bLeads;
    assert.deepEqual(running, ["b"]);
    stopB.abort();
    await leadingB;
    assert.deepEqual(running, []);
    await Promise.all([a.close(), b.close()]);
  },
);

// Regression: a replica told to stop while its work was starting waited forever (an abort
// listener added after the abort never runs), and `strata server` never exited.
test("stopping while the work starts ends the leadership", { skip: skip ?? false }, async () => {
  const cluster = await open(`/strata-test/${randomBytes(6).toString("hex")}`);
  const stop = new AbortController();
  let stopped = false;
  await lead({
    cluster,
    name: "scheduler",
    owner: "a",
    signal: stop.signal,
    start: async () => {
      stop.abort();
      return async () => void (stopped = true);
    },
  });
  assert.ok(stopped);
  await cluster.close();
});
