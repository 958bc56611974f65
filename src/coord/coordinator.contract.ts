import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { DesiredRelease } from "../wire/agent.js";
import type { Coordinator } from "./coordinator.js";

export interface CoordinatorContractOptions {
  /** A fresh coordinator in which the servers `a` and `b` exist with no desired release. */
  create: () => Promise<{
    coordinator: Coordinator;
    release: (id: string) => DesiredRelease;
    /** Another coordinator over the same durable state, as after a control-plane restart. */
    reopen: () => Promise<Coordinator>;
    close(): Promise<void>;
  }>;
  /** Tests to skip, each with the reason. */
  skip?: Record<string, string>;
}

/** The behaviour every Coordinator (embedded, etcd) must show. */
export function runCoordinatorContract(name: string, options: CoordinatorContractOptions): void {
  const it = (title: string, fn: () => Promise<void>) =>
    test(title, options.skip?.[title] ? { skip: options.skip[title] } : {}, fn);
  const R1 = `sha256:${"1".repeat(64)}`;
  const R2 = `sha256:${"2".repeat(64)}`;

  describe(`Coordinator contract: ${name}`, () => {
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
  });
}
