import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TaskChunk } from "./task-hub.js";
import { createTaskHub } from "./task-hub.js";

const LOGS = { kind: "logs", source: "app", lines: 10, follow: true } as const;
const NO_EXIT = { exit_code: null, signal: null, timed_out: false };

async function collect(chunks: AsyncGenerator<TaskChunk>): Promise<TaskChunk[]> {
  const out: TaskChunk[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

describe("task hub: the channel to agents that only pull", () => {
  test("a task waits for its server's long poll; output flows back until its end", async () => {
    const hub = createTaskHub({ idleTimeoutMs: 60_000 });
    const never = new AbortController().signal;
    const polled = hub.take("web-1", 60_000, never);
    const reading = collect(hub.run("web-1", LOGS, never));
    const [task] = await polled;
    assert.ok(task);
    assert.equal(task.kind, "logs");
    assert.equal(task.keepalive_ms, 20_000, "a third of the idle timeout");
    assert.deepEqual(await hub.take("web-2", 0, never), [], "another server's poll gets nothing");
    assert.equal(
      await hub.deliver("web-2", task.id, { data: "x" }),
      false,
      "only its own server posts",
    );
    assert.equal(await hub.deliver("web-1", task.id, { data: "a\n" }), true);
    assert.equal(await hub.deliver("web-1", task.id, {}), true, "a keepalive");
    assert.equal(await hub.deliver("web-1", task.id, { data: "b\n", end: NO_EXIT }), true);
    assert.deepEqual(await reading, [{ data: "a\n" }, { data: "b\n" }, { end: NO_EXIT }]);
    assert.equal(await hub.deliver("web-1", task.id, { data: "late" }), false, "ended: 404");
  });

  test("a caller that goes away cancels: the task leaves the queue, posts get false", async () => {
    const hub = createTaskHub({ idleTimeoutMs: 60_000 });
    const caller = new AbortController();
    const chunks = hub.run("web-1", LOGS, caller.signal);
    const first = chunks.next();
    const [task] = await hub.take("web-1", 1000, new AbortController().signal);
    caller.abort();
    assert.deepEqual(await first, { done: true, value: undefined });
    assert.equal(await hub.deliver("web-1", task!.id, { data: "x" }), false);

    const queuedOnly = new AbortController();
    const never = hub.run("web-1", LOGS, queuedOnly.signal);
    const pending = never.next();
    await new Promise((resolve) => setImmediate(resolve));
    queuedOnly.abort();
    await pending;
    assert.deepEqual(await hub.take("web-1", 0, new AbortController().signal), []);
  });

  test("an agent that sends nothing for the idle timeout fails the task (it went away)", async () => {
    const hub = createTaskHub({ idleTimeoutMs: 200 });
    const never = new AbortController().signal;
    const reading = collect(hub.run("web-1", LOGS, never));
    await assert.rejects(reading, (err: Error & { code?: string }) => {
      assert.equal(err.code, "unavailable");
      assert.match(err.message, /web-1: no answer from its agent/);
      return true;
    });
  });

  test("a long poll ends empty when its request is aborted", async () => {
    const hub = createTaskHub();
    const poll = new AbortController();
    const taking = hub.take("web-1", 60_000, poll.signal);
    poll.abort();
    assert.deepEqual(await taking, []);
  });

  test("a reader too slow for a follow loses chunks past the bound, and is told", async () => {
    const hub = createTaskHub({ idleTimeoutMs: 60_000, maxQueuedBytes: 10 });
    const never = new AbortController().signal;
    const chunks = hub.run("web-1", LOGS, never);
    const first = chunks.next();
    const [task] = await hub.take("web-1", 1000, never);
    // Posted in one go: the reader takes nothing in between.
    await Promise.all([
      hub.deliver("web-1", task!.id, { data: "12345678\n" }),
      hub.deliver("web-1", task!.id, { data: "dropped\n" }),
      hub.deliver("web-1", task!.id, { data: "", end: NO_EXIT }),
    ]);
    assert.deepEqual((await first).value, { data: "12345678\n" });
    const rest = await collect(chunks);
    assert.deepEqual(rest, [
      { data: "[strata] 8 bytes dropped: read too slowly\n" },
      { end: NO_EXIT },
    ]);
  });
});
