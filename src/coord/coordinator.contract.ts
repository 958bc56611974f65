import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import type { AgentTask, TaskOutput } from "../wire/ops.js";
import type { Cluster, Coordinator } from "./coordinator.js";

export interface CoordinatorContractOptions {
  /** A fresh coordinator in which the servers `a` and `b` exist with no desired release. */
  create: () => Promise<{
    coordinator: Coordinator;
    /**
     * Another replica's coordinator on the same state, as a second control
     * plane would open it; the embedded coordinator (one control plane) is its
     * own peer.
     */
    peer: Coordinator;
    /** Membership of both, where it is a Cluster's (several replicas). */
    cluster?: { self: Cluster; peer: Cluster };
    release: (id: string) => DesiredRelease;
    /** Another coordinator over the same durable state, as after a control-plane restart. */
    reopen: () => Promise<Coordinator>;
    close(): Promise<void>;
  }>;
  /** Tests to skip, each with the reason. */
  skip?: Record<string, string>;
}

const report = (generation: number, phase: AgentReport["phase"]): AgentReport => ({
  generation,
  phase,
  release_id: phase === "converged" ? `sha256:${"1".repeat(64)}` : null,
  current_release: null,
  steps: [],
  ...(phase === "failed" ? { error: "boom" } : {}),
});

const task = (id: string): AgentTask => ({
  id,
  keepalive_ms: 5000,
  kind: "exec",
  argv: ["true"],
  timeout_ms: 1000,
  max_output_bytes: 1024,
});
const NO_EXIT = { exit_code: 0, signal: null, timed_out: false };

/** Waits until `ready()` holds, or fails after `ms`. */
async function until(ready: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The behaviour every Coordinator (embedded, etcd) must show. */
export function runCoordinatorContract(name: string, options: CoordinatorContractOptions): void {
  const it = (title: string, fn: () => Promise<void>) =>
    test(title, options.skip?.[title] ? { skip: options.skip[title] } : {}, fn);
  const R1 = `sha256:${"1".repeat(64)}`;
  const R2 = `sha256:${"2".repeat(64)}`;

  describe(`Coordinator contract: ${name}`, () => {
    // Regression: each replica renewed the lease it had granted itself, but a touch on the
    // other replica had rebound the key to its own lease; an agent whose heartbeats then
    // reached only the first replica lapsed while it heartbeat on.
    it("a member renewed on either replica stays alive past its lease, and lapses untouched", async () => {
      const { cluster, close } = await options.create();
      assert.ok(cluster, "a Cluster to test (or skip this case with the reason)");
      const ttlMs = 3000;
      await cluster.self.touch("web-1", ttlMs);
      await cluster.peer.touch("web-1", ttlMs);
      await cluster.self.touch("web-2", ttlMs);
      const until = Date.now() + 2 * ttlMs + 1000;
      while (Date.now() < until) {
        await cluster.self.touch("web-1", ttlMs);
        await new Promise((r) => setTimeout(r, 300));
      }
      assert.deepEqual(await cluster.peer.members(), ["web-1"], "web-1 renewed, web-2 lapsed");
      assert.deepEqual(await cluster.self.members(), ["web-1"], "both replicas agree");
      await close();
    });

    it("a server starts at generation 0 with no release", async () => {
      const { coordinator, close } = await options.create();
      assert.deepEqual(await coordinator.desired("a"), { generation: 0, release: null });
      await close();
    });

    it("setDesired bumps the generation only on a change, unless forced", async () => {
      const { coordinator, release, close } = await options.create();
      const first = await coordinator.setDesired("a", release(R1));
      assert.equal(first.generation, 1);
      assert.equal(first.release?.id, R1);
      assert.equal((await coordinator.setDesired("a", release(R1))).generation, 1);
      assert.equal((await coordinator.setDesired("a", release(R1), { force: true })).generation, 2);
      assert.equal((await coordinator.setDesired("a", release(R2))).generation, 3);
      assert.equal((await coordinator.desired("b")).generation, 0, "other servers are untouched");
      await close();
    });

    it("setStage bumps the generation, keeps the release, and setDesired of it clears the stage", async () => {
      const { coordinator, release, close } = await options.create();
      await coordinator.setDesired("a", release(R1));
      const staged = await coordinator.setStage("a", release(R2));
      assert.equal(staged.generation, 2);
      assert.equal(staged.release?.id, R1, "staging never changes what runs");
      assert.equal(staged.stage?.id, R2);
      assert.equal((await coordinator.setStage("a", release(R2))).generation, 2, "idempotent");
      const waiting = coordinator.watch("a", 2, 10_000);
      const switched = await coordinator.setDesired("a", release(R2));
      assert.equal(switched.generation, 3);
      assert.equal(switched.stage ?? null, null);
      assert.equal((await waiting).release?.id, R2);
      assert.equal((await coordinator.desired("a")).stage ?? null, null);
      await close();
    });

    it("setDesiredMany and setStageMany apply the single rules to every server, and wake each", async () => {
      const { coordinator, release, close } = await options.create();
      await coordinator.setDesired("a", release(R1));
      const waiting = ["a", "b"].map((s, i) => coordinator.watch(s, i === 0 ? 1 : 0, 10_000));
      const staged = await coordinator.setStageMany(["a", "b"], release(R2));
      assert.deepEqual(
        staged.map((s) => [s.generation, s.release?.id ?? null, s.stage?.id]),
        [
          [2, R1, R2],
          [1, null, R2],
        ],
      );
      assert.deepEqual(
        (await Promise.all(waiting)).map((s) => s.stage?.id),
        [R2, R2],
        "both watchers woke",
      );
      const again = await coordinator.setStageMany(["a", "b"], release(R2));
      assert.deepEqual(
        again.map((s) => s.generation),
        [2, 1],
        "idempotent",
      );
      const switched = await coordinator.setDesiredMany(["b", "a"], release(R2));
      assert.deepEqual(
        switched.map((s) => [s.generation, s.release?.id, s.stage ?? null]),
        [
          [2, R2, null],
          [3, R2, null],
        ],
        "in the order asked, the stage cleared",
      );
      assert.deepEqual(
        (await coordinator.setDesiredMany(["a", "b"], release(R2))).map((s) => s.generation),
        [3, 2],
        "unchanged without force",
      );
      assert.deepEqual(
        (await coordinator.setDesiredMany(["a", "b"], release(R2), { force: true })).map(
          (s) => s.generation,
        ),
        [4, 3],
      );
      assert.equal((await coordinator.desired("a")).generation, 4, "what a read sees");
      assert.deepEqual(await coordinator.setDesiredMany([], release(R1)), []);
      await close();
    });

    it("desiredMany reads what desired reads, in the order asked, on either replica", async () => {
      const { coordinator, peer, release, close } = await options.create();
      await coordinator.setDesired("b", release(R1));
      await coordinator.setStage("b", release(R2));
      await coordinator.setDesired("a", release(R1), { run: { stopped: true } });
      for (const reader of [coordinator, peer]) {
        assert.deepEqual(await reader.desiredMany(["b", "a"]), [
          await reader.desired("b"),
          await reader.desired("a"),
        ]);
      }
      const [b, a] = await peer.desiredMany(["b", "a"]);
      assert.deepEqual([b?.generation, b?.stage?.id, a?.stopped], [2, R2, true]);
      assert.deepEqual(await coordinator.desiredMany([]), []);
      await close();
    });

    it("watch answers at once when the generation differs, else at the change", async () => {
      const { coordinator, release, close } = await options.create();
      assert.equal((await coordinator.watch("a", -1, 10_000)).generation, 0);
      const waiting = coordinator.watch("a", 0, 10_000);
      const others = coordinator.watch("b", 0, 50);
      await coordinator.setDesired("a", release(R1));
      const seen = await waiting;
      assert.equal(seen.generation, 1);
      assert.equal(seen.release?.id, R1);
      assert.equal((await others).generation, 0, "a watcher of another server times out unchanged");
      await close();
    });

    it("many watchers of one server all wake", async () => {
      const { coordinator, release, close } = await options.create();
      const watchers = Array.from({ length: 50 }, () => coordinator.watch("a", 0, 10_000));
      await coordinator.setDesired("a", release(R2));
      const seen = await Promise.all(watchers);
      assert.ok(seen.every((s) => s.generation === 1 && s.release?.id === R2));
      await close();
    });

    it("an aborted watch returns the current state", async () => {
      const { coordinator, close } = await options.create();
      const abort = new AbortController();
      const waiting = coordinator.watch("a", 0, 10_000, abort.signal);
      abort.abort();
      assert.equal((await waiting).generation, 0);
      await close();
    });

    it("a lock has one owner at a time and is free again after release", async () => {
      const { coordinator, close } = await options.create();
      const lock = await coordinator.tryLock("deploy/hello/web", "d-1");
      assert.ok(lock);
      assert.equal(await coordinator.tryLock("deploy/hello/web", "d-2"), null);
      assert.equal(await coordinator.lockOwner("deploy/hello/web"), "d-1");
      assert.ok(
        await coordinator.tryLock("deploy/hello/api", "d-3"),
        "other names are independent",
      );
      await lock.release();
      await lock.release();
      assert.equal(await coordinator.lockOwner("deploy/hello/web"), null);
      assert.ok(await coordinator.tryLock("deploy/hello/web", "d-2"));
      await close();
    });

    it("a report published on one replica reaches the subscribers of every replica, in order", async () => {
      const { coordinator, peer, close } = await options.create();
      const seen: { on: string; server: string; phase: string }[] = [];
      const stops = [
        coordinator.subscribeReports((server, r) =>
          seen.push({ on: "self", server, phase: r.phase }),
        ),
        peer === coordinator
          ? () => {}
          : peer.subscribeReports((server, r) => seen.push({ on: "peer", server, phase: r.phase })),
      ];
      const subscribers = peer === coordinator ? ["self"] : ["self", "peer"];
      // An agent alternating between replicas: each report is answered before the next is sent.
      await coordinator.publishReport("a", report(1, "working"));
      await peer.publishReport("a", report(1, "converged"));
      await coordinator.publishReport("b", report(1, "failed"));
      const deadline = Date.now() + 10_000;
      while (seen.length < 3 * subscribers.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 10));
      for (const on of subscribers) {
        assert.deepEqual(
          seen.filter((x) => x.on === on).map((x) => `${x.server}:${x.phase}`),
          ["a:working", "a:converged", "b:failed"],
          `the reports ${on} saw`,
        );
      }
      for (const stop of stops) stop();
      // Delivered in order: once a later subscriber has this one, the earlier ones would have too.
      let after = 0;
      const last = coordinator.subscribeReports(() => after++);
      await coordinator.publishReport("a", report(2, "converged"));
      while (after === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      last();
      assert.equal(after, 1);
      assert.equal(seen.length, 3 * subscribers.length, "none after unsubscribing");
      await close();
    });

    it("a stop is kept across releases until a start; a restart id is carried once asked", async () => {
      const { coordinator, release, close } = await options.create();
      await coordinator.setDesired("a", release(R1));
      const stopped = await coordinator.setDesired("a", release(R1), { run: { stopped: true } });
      assert.equal(stopped.generation, 2, "a run change moves the generation");
      assert.equal(stopped.stopped, true);
      const moved = await coordinator.setDesired("a", release(R2));
      assert.equal(moved.stopped, true, "a new release leaves a stop in place");
      const restarted = await coordinator.setDesired("a", release(R2), { run: { restart: "d-9" } });
      assert.equal(restarted.restart, "d-9");
      assert.equal(restarted.stopped, true);
      const started = await coordinator.setDesired("a", release(R2), { run: { stopped: false } });
      assert.equal(started.stopped ?? false, false);
      assert.equal((await coordinator.desired("a")).restart, "d-9");
      await coordinator.setStage("a", release(R1));
      assert.equal((await coordinator.desired("a")).restart, "d-9", "a stage keeps the run state");
      await close();
    });

    it("forget removes servers' desired state, on every replica and after a restart (group rm left it)", async () => {
      const { coordinator, peer, release, reopen, close } = await options.create();
      await coordinator.setDesired("a", release(R1), { run: { stopped: true } });
      await coordinator.setDesired("b", release(R1));
      await peer.setDesired("a", release(R2));
      await coordinator.forget(["a", "gone"]);
      await coordinator.forget(["a"]);
      for (const c of [coordinator, peer, await reopen()])
        assert.deepEqual(await c.desired("a"), { generation: 0, release: null });
      assert.equal((await coordinator.desired("b")).release?.id, R1, "b is kept");
      const again = await peer.setDesired("a", release(R1));
      assert.equal(again.generation, 1, "a server that takes the name starts afresh");
      assert.equal(again.stopped ?? false, false);
      await close();
    });

    it("a durable lock outlives the coordinator that took it until releaseLock", async () => {
      const { coordinator, reopen, close } = await options.create();
      const lock = await coordinator.tryLock("maintenance/web", "m-1", { durable: true });
      assert.ok(lock);
      assert.equal(await coordinator.tryLock("maintenance/web", "m-2", { durable: true }), null);
      assert.equal(await coordinator.tryLock("maintenance/web", "m-3"), null);
      const after = await reopen();
      assert.equal(await after.lockOwner("maintenance/web"), "m-1", "still held after a restart");
      assert.equal(await after.tryLock("maintenance/web", "m-2", { durable: true }), null);
      await after.releaseLock("maintenance/web", "m-2");
      assert.equal(await after.lockOwner("maintenance/web"), "m-1", "only its owner frees it");
      await after.releaseLock("maintenance/web", "m-1");
      await after.releaseLock("maintenance/web", "m-1");
      assert.equal(await coordinator.lockOwner("maintenance/web"), null);
      assert.ok(await coordinator.tryLock("maintenance/web", "m-2", { durable: true }));
      await close();
    });

    // Regression: the hold lived in the deploying replica's memory; another replica put a
    // held server back in service while its wave was drained.
    it("a server held out on one replica is held out on every replica until let in", async () => {
      const { coordinator, peer, close } = await options.create();
      assert.equal(await peer.heldOut("a"), false);
      await coordinator.holdOut(["a", "b"]);
      await coordinator.holdOut(["a"]);
      assert.equal(await peer.heldOut("a"), true, "the other replica sees the hold at once");
      assert.equal(await peer.heldOut("b"), true);
      await peer.letIn(["a"]);
      await peer.letIn(["a"]);
      assert.equal(await coordinator.heldOut("a"), false, "let in by either replica");
      assert.equal(await coordinator.heldOut("b"), true, "only the servers let in");
      await coordinator.letIn(["b"]);
      assert.equal(await peer.heldOut("b"), false);
      await close();
    });

    // Regression: the task hub lived in one replica's memory; a task issued on replica A for
    // an agent long-polling replica B was never delivered, nor its output returned to A.
    it("a task opened on one replica is taken once by a poll on the other, and its posts come back in order", async () => {
      const { coordinator, peer, close } = await options.create();
      const never = new AbortController().signal;
      const seen: (TaskOutput | null)[] = [];
      const id = "00000000-0000-4000-8000-000000000001";
      const polling = peer.takeTasks("a", 10_000, never);
      const opened = await coordinator.openTask("a", task(id), (o) => seen.push(o));
      assert.deepEqual(await polling, [task(id)], "a waiting poll wakes with it");
      assert.deepEqual(await coordinator.takeTasks("a", 0, never), [], "handed out once");
      assert.deepEqual(await peer.takeTasks("b", 0, never), [], "not another server's");
      assert.equal(
        await peer.postTaskOutput("b", id, { data: "x" }),
        false,
        "only its server posts",
      );
      assert.equal(await peer.postTaskOutput("a", id, { data: "1\n" }), true);
      assert.equal(await coordinator.postTaskOutput("a", id, {}), true, "a keepalive, elsewhere");
      assert.equal(await peer.postTaskOutput("a", id, { data: "2\n", end: NO_EXIT }), true);
      await until(() => seen.length === 3);
      assert.deepEqual(seen, [{ data: "1\n" }, {}, { data: "2\n", end: NO_EXIT }]);
      await opened.close();
      await opened.close();
      assert.equal(await peer.postTaskOutput("a", id, { data: "late" }), false, "closed: refused");
      await close();
    });

    it("a task closed before it was taken leaves the queue; an aborted poll ends empty", async () => {
      const { coordinator, peer, close } = await options.create();
      const never = new AbortController().signal;
      const id = "00000000-0000-4000-8000-000000000002";
      const opened = await coordinator.openTask("a", task(id), () => undefined);
      await opened.close();
      assert.deepEqual(await peer.takeTasks("a", 0, never), []);
      assert.equal(await peer.postTaskOutput("a", id, {}), false);
      const poll = new AbortController();
      const polling = peer.takeTasks("a", 60_000, poll.signal);
      poll.abort();
      assert.deepEqual(await polling, []);
      const queued = "00000000-0000-4000-8000-000000000003";
      const later = await coordinator.openTask("a", task(queued), () => undefined);
      const taken = await peer.takeTasks("a", 10_000, never);
      assert.deepEqual(taken, [task(queued)], "a task queued with no poll waits for the next");
      await later.close();
      await close();
    });
  });
}
