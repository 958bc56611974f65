import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { waitFor } from "../../../test/e2e/harness.js";
import { ENGINES, engineSkipReason } from "../../lib/engine-tests.js";
import type { DesiredRelease } from "../../wire/agent.js";
import { runCoordinatorContract } from "../coordinator.contract.js";
import { EtcdClient } from "./etcd-client.js";
import {
  createEtcdCoordinator,
  type EtcdCoordinator,
  type EtcdCoordinatorOptions,
} from "./etcd-coordinator.js";

const endpoints = ENGINES.etcdEndpoints;
const skip = await engineSkipReason("etcd", () => new EtcdClient({ endpoints }).get("/probe"));

const release = (id: string): DesiredRelease => ({
  id,
  app: "hello",
  version: id.slice(7, 11),
  size: 1,
  artifact_path: `/v1/releases/${id}/artifact`,
});
const R1 = `sha256:${"1".repeat(64)}`;
const R2 = `sha256:${"2".repeat(64)}`;
const freshPrefix = () => `/strata-test/${randomBytes(6).toString("hex")}`;
const open = (options: Partial<EtcdCoordinatorOptions> = {}) =>
  createEtcdCoordinator({ endpoints, prefix: freshPrefix(), ...options });

/** A replica in another process that takes `lock` (or leads `leader`), says so, and waits to be killed. */
async function holderProcess(prefix: string, what: { lock?: string; leader?: string }) {
  const module = fileURLToPath(new URL("./etcd-coordinator.ts", import.meta.url));
  const script = `
    const { createEtcdCoordinator } = await import(${JSON.stringify(module)});
    const c = await createEtcdCoordinator({ endpoints: ${JSON.stringify(endpoints)},
      prefix: ${JSON.stringify(prefix)}, leaseTtlMs: 1000 });
    const held = ${JSON.stringify(what.lock ?? null)}
      ? await c.tryLock(${JSON.stringify(what.lock)}, "dying-replica")
      : await c.campaign(${JSON.stringify(what.leader)}, "dying-replica");
    console.log(held ? "held" : "refused");
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  assert.equal(line.toString().trim(), "held");
  return child;
}

if (skip) {
  test("etcd coordinator", { skip }, () => {});
} else {
  runCoordinatorContract("etcd", {
    async create() {
      const prefix = freshPrefix();
      const [coordinator, peer] = await Promise.all([open({ prefix }), open({ prefix })]);
      const reopened: EtcdCoordinator[] = [];
      const reopen = async () => {
        const again = await open({ prefix });
        reopened.push(again);
        return again;
      };
      return {
        coordinator,
        peer,
        cluster: { self: coordinator, peer },
        release,
        reopen,
        close: async () =>
          void (await Promise.all([coordinator, peer, ...reopened].map((c) => c.close()))),
      };
    },
  });

  describe("etcd coordinator", () => {
    test("the holds and open tasks of a replica killed with SIGKILL lapse with its lease", async () => {
      const prefix = freshPrefix();
      const module = fileURLToPath(new URL("./etcd-coordinator.ts", import.meta.url));
      const script = `
        const { createEtcdCoordinator } = await import(${JSON.stringify(module)});
        const c = await createEtcdCoordinator({ endpoints: ${JSON.stringify(endpoints)},
          prefix: ${JSON.stringify(prefix)}, leaseTtlMs: 1000 });
        await c.holdOut(["web-1"]);
        await c.openTask("web-1", { id: "00000000-0000-4000-8000-00000000000a", keepalive_ms: 1000,
          kind: "exec", argv: ["true"], timeout_ms: 1000, max_output_bytes: 10 }, () => {});
        console.log("held");
        setInterval(() => {}, 1000);`;
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", script],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      const [line] = (await once(child.stdout, "data")) as [Buffer];
      assert.equal(line.toString().trim(), "held");
      const peer = await open({ prefix });
      assert.equal(await peer.heldOut("web-1"), true);
      child.kill("SIGKILL");
      await once(child, "exit");
      await waitFor("the dead replica's hold to lapse", async () => !(await peer.heldOut("web-1")));
      const id = "00000000-0000-4000-8000-00000000000a";
      assert.equal(await peer.postTaskOutput("web-1", id, {}), false, "its task is gone");
      assert.deepEqual(await peer.takeTasks("web-1", 0, new AbortController().signal), []);
      await peer.close();
    });

    test("a replica whose lease lapsed binds its holds to a new one", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([
        open({ prefix, leaseTtlMs: 1000 }),
        open({ prefix, leaseTtlMs: 1000 }),
      ]);
      await a.holdOut(["web-1"]);
      const client = new EtcdClient({ endpoints });
      const first = (await client.get(`${prefix}/holds/web-1`))!.lease!;
      await client.revoke(first);
      const deadline = Date.now() + 15_000;
      let now = await client.get(`${prefix}/holds/web-1`);
      while ((!now || now.lease === first) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        now = await client.get(`${prefix}/holds/web-1`);
      }
      assert.ok(now && now.lease !== first, "held again under a new lease");
      assert.equal(await b.heldOut("web-1"), true);
      await a.close();
      assert.equal(await b.heldOut("web-1"), false, "a closing replica gives its holds up at once");
      await b.close();
    });

    test("a change made on one replica wakes the long polls on another", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      const polls = ["s1", "s2", "s3"].map((s) => a.watch(s, 0, 30_000));
      await Promise.all(["s1", "s2", "s3"].map((s) => b.setDesired(s, release(R1))));
      for (const seen of await Promise.all(polls)) {
        assert.equal(seen.generation, 1);
        assert.equal(seen.release?.id, R1);
      }
      await Promise.all([a.close(), b.close()]);
    });

    test("concurrent setDesired from two replicas loses no generation", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? a : b).setDesired("s", release(R1), { force: true }),
        ),
      );
      assert.equal((await a.desired("s")).generation, 10);
      await Promise.all([a.close(), b.close()]);
    });

    test("changes to many servers in one tick go out in a few transactions, every one applied", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      const names = Array.from({ length: 300 }, (_, i) => `s${i}`);
      const polls = names.map((n) => b.watch(n, 0, 60_000));
      const before = (await new EtcdClient({ endpoints }).list(`${prefix}/`)).revision;
      // The same server twice in one tick, too: etcd refuses one key twice in a transaction.
      const states = await Promise.all([
        ...names.map((n) => a.setDesired(n, release(R1))),
        a.setDesired("s0", release(R2)),
      ]);
      assert.ok(states.slice(0, 300).every((s) => s.generation >= 1));
      const after = (await new EtcdClient({ endpoints }).list(`${prefix}/`)).revision;
      assert.ok(after - before < 301, `${after - before} revisions for 301 changes`);
      assert.equal((await a.desired("s0")).generation, 2);
      assert.equal((await a.desired("s0")).release?.id, R2);
      const seen = await Promise.all(polls);
      assert.ok(seen.every((s) => s.generation >= 1));
      await Promise.all([a.close(), b.close()]);
    });

    // A deploy's set-up of a group larger than one etcd transaction holds (128 keys, etcd's
    // default --max-txn-ops): a replica that has not seen the servers reads them in batches,
    // a few of its guesses are stale (another replica changed them), and every server still
    // ends up with exactly one more generation.
    test("a batch of more servers than one transaction holds reads and writes in few transactions", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      const names = Array.from({ length: 1000 }, (_, i) => `web-${i}`);
      await b.setDesiredMany(names, release(R1));
      const c = await open({ prefix });
      const read = await c.desiredMany(names);
      assert.deepEqual(
        read.map((s) => [s.generation, s.release?.id]),
        names.map(() => [1, R1]),
      );
      // Stale guesses for a few: b moves them on after c has read them.
      await Promise.all(
        names.slice(0, 5).map((n) => b.setDesired(n, release(R1), { force: true })),
      );
      const etcd = new EtcdClient({ endpoints });
      const before = (await etcd.list(`${prefix}/`)).revision;
      const staged = await c.setStageMany(names, release(R2));
      const after = (await etcd.list(`${prefix}/`)).revision;
      const batches = Math.ceil(names.length / 128);
      assert.ok(after - before <= 2 * batches, `${after - before} writes for ${batches} batches`);
      assert.deepEqual(
        staged.map((s) => s.generation),
        names.map((_, i) => (i < 5 ? 3 : 2)),
        "one more generation each, also where the guess was stale",
      );
      assert.ok(staged.every((s) => s.stage?.id === R2 && s.release?.id === R1));
      assert.deepEqual(await a.desiredMany(names), staged, "what another replica reads");
      await Promise.all([a.close(), b.close(), c.close()]);
    });

    // Regression for the change to release ids: desired keys written before it hold both
    // descriptors whole, and a control plane upgraded in place must still serve them.
    test("a desired key written before release ids still reads, wakes and moves on", async () => {
      const prefix = freshPrefix();
      const etcd = new EtcdClient({ endpoints });
      const legacy = { generation: 4, release: release(R1), stage: release(R2), restart: "r-1" };
      await etcd.put(`${prefix}/desired/old`, JSON.stringify(legacy));
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      assert.deepEqual(await a.desired("old"), legacy);
      assert.deepEqual(await a.desiredMany(["old"]), [legacy]);
      const poll = b.watch("old", 4, 60_000);
      const switched = await a.setDesired("old", release(R2));
      assert.deepEqual(switched, { generation: 5, release: release(R2), restart: "r-1" });
      assert.deepEqual(await poll, switched, "the other replica's long poll");
      const stored = JSON.parse((await etcd.get(`${prefix}/desired/old`))!.value) as object;
      assert.deepEqual(stored, { generation: 5, release_id: R2, restart: "r-1" }, "ids only now");
      await Promise.all([a.close(), b.close()]);
    });

    test("a desired key whose release key is gone reads as no release, never an error", async () => {
      const prefix = freshPrefix();
      const etcd = new EtcdClient({ endpoints });
      const logged: string[] = [];
      const a = await open({ prefix, log: (line) => logged.push(line) });
      await a.setDesired("s", release(R1));
      await a.setStage("s", release(R2));
      await etcd.delete(`${prefix}/releases/${R1}`);
      const b = await open({ prefix, log: (line) => logged.push(line) });
      assert.deepEqual(await b.desired("s"), { generation: 2, release: null, stage: release(R2) });
      assert.match(logged.join("\n"), /release sha256:1+ is desired but .* is gone/);
      await Promise.all([a.close(), b.close()]);
    });

    test("a lock is renewed while held, past its lease", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([
        open({ prefix, leaseTtlMs: 1000 }),
        open({ prefix, leaseTtlMs: 1000 }),
      ]);
      const lock = await a.tryLock("deploy/hello/web", "replica-a");
      assert.ok(lock);
      const start = Date.now();
      // Three lease lengths pass; all along, b is refused.
      await waitFor("three lease lengths", async () => {
        assert.equal(await b.tryLock("deploy/hello/web", "replica-b"), null);
        return Date.now() - start > 3000;
      });
      assert.equal(await b.lockOwner("deploy/hello/web"), "replica-a");
      assert.equal(lock.lost.aborted, false);
      await lock.release();
      assert.ok(await b.tryLock("deploy/hello/web", "replica-b"), "free at once after release");
      await Promise.all([a.close(), b.close()]);
    });

    test("the lock of a replica killed with SIGKILL expires and another takes it", async () => {
      const prefix = freshPrefix();
      const child = await holderProcess(prefix, { lock: "deploy/hello/web" });
      const b = await open({ prefix, leaseTtlMs: 1000 });
      assert.equal(await b.lockOwner("deploy/hello/web"), "dying-replica");
      assert.equal(await b.tryLock("deploy/hello/web", "replica-b"), null);
      child.kill("SIGKILL");
      const lock = await waitFor("the dead replica's lock to expire", () =>
        b.tryLock("deploy/hello/web", "replica-b"),
      );
      assert.equal(await b.lockOwner("deploy/hello/web"), "replica-b");
      await lock.release();
      await b.close();
    });

    test("one leader at a time; a waiting replica leads once the leader dies", async () => {
      const prefix = freshPrefix();
      const child = await holderProcess(prefix, { leader: "scheduler/forecast" });
      const b = await open({ prefix, leaseTtlMs: 1000 });
      const abort = new AbortController();
      const other = b.campaign("scheduler/other", "replica-b");
      assert.equal((await other).owner, "replica-b", "other names are independent");
      let led = false;
      const campaign = b.campaign("scheduler/forecast", "replica-b", abort.signal).then((l) => {
        led = true;
        return l;
      });
      const leaderKey = `${prefix}/leaders/scheduler/forecast`;
      assert.equal((await new EtcdClient({ endpoints }).get(leaderKey))?.value, "dying-replica");
      assert.equal(led, false);
      child.kill("SIGKILL");
      const leadership = await campaign;
      assert.equal(leadership.owner, "replica-b");
      await b.close();
      assert.ok(led);
    });

    test("an aborted campaign rejects", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      await a.campaign("scheduler/bake", "replica-a");
      const abort = new AbortController();
      const waiting = b.campaign("scheduler/bake", "replica-b", abort.signal);
      abort.abort();
      await assert.rejects(waiting, /aborted/);
      await Promise.all([a.close(), b.close()]);
    });

    test("members are alive until their lease runs out; a touch renews", async () => {
      const prefix = freshPrefix();
      const [a, b] = await Promise.all([open({ prefix }), open({ prefix })]);
      await a.touch("web-1", 1000);
      await a.touch("web-2", 60_000);
      await a.touch("web-2", 60_000);
      assert.deepEqual(await b.members(), ["web-1", "web-2"]);
      await waitFor("web-1 to lapse", async () => (await b.members()).length === 1);
      assert.deepEqual(await b.members(), ["web-2"]);
      await b.touch("web-1", 60_000);
      assert.deepEqual(await a.members(), ["web-1", "web-2"]);
      await Promise.all([a.close(), b.close()]);
    });
  });
}

/** A private etcd member of our own on 127.70.0.2, so that killing it disturbs no other test. */
async function privateEtcd(dataDir: string) {
  const host = "127.70.0.2";
  const client = `http://${host}:23791`;
  const peer = `http://${host}:23801`;
  const member = spawn(
    "etcd",
    [
      ...["--name", "restart-test", "--data-dir", dataDir],
      ...["--listen-client-urls", client, "--advertise-client-urls", client],
      ...["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
      ...["--initial-cluster", `restart-test=${peer}`],
    ],
    { stdio: "ignore" },
  );
  await waitFor("the private etcd", () =>
    new EtcdClient({ endpoints: [client] }).get("/x").then(() => true),
  );
  return { member, endpoint: client };
}

const haveEtcdBinary = await new Promise<boolean>((resolve) => {
  const probe = spawn("etcd", ["--version"], { stdio: "ignore" });
  probe.on("error", () => resolve(false));
  probe.on("exit", (code) => resolve(code === 0));
});

test(
  "after the etcd member is killed with SIGKILL and restarted, watches reconnect and nothing is lost",
  {
    skip:
      skip ??
      (haveEtcdBinary || process.env.STRATA_ENGINE_TESTS
        ? false
        : "no etcd binary (apt-get install etcd-server)"),
  },
  async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "strata-etcd-"));
    let etcd = await privateEtcd(dir);
    const prefix = freshPrefix();
    const logged: string[] = [];
    const options = { endpoints: [etcd.endpoint], prefix, log: (l: string) => void logged.push(l) };
    const [a, b] = await Promise.all([
      createEtcdCoordinator(options),
      createEtcdCoordinator(options),
    ]);
    const reports: string[] = [];
    a.subscribeReports((server, r) => reports.push(`${server}:${r.phase}`));
    try {
      await b.setDesired("web-1", release(R1));
      // An agent's long poll: parked on a, retried (as agents do) if etcd is down when it asks.
      const poll = (async () => {
        for (;;) {
          try {
            return await a.watch("web-1", 1, 120_000);
          } catch {
            await new Promise((retry) => setTimeout(retry, 100));
          }
        }
      })();
      await a.desired("web-1");
      etcd.member.kill("SIGKILL");
      await once(etcd.member, "exit");
      await waitFor("a broken watch to be noticed", async () => logged.length > 0);
      etcd = await privateEtcd(dir);
      assert.equal((await b.desired("web-1")).release?.id, R1, "state survived the kill");
      await waitFor("b to write again", () =>
        b.setDesired("web-1", release(R2)).then((s) => s.generation === 2),
      );
      const seen = await poll;
      assert.equal(seen.generation, 2);
      assert.equal(seen.release?.id, R2);
      // A report sent to b around the restart reaches a: by its watch, or re-read after it broke.
      await b.publishReport("web-1", {
        generation: 2,
        phase: "converged",
        release_id: R2,
        current_release: R2,
        steps: [],
      });
      await waitFor("a to hear the report", async () => reports.includes("web-1:converged"));
    } finally {
      await Promise.all([a.close(), b.close()]);
      etcd.member.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  },
);
