import assert from "node:assert/strict";
import { appendFile, copyFile, mkdtemp, rename, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import type { Clock } from "../lib/clock.js";
import { followLog, type FollowBatch, type FollowOptions } from "./follow.js";

/**
 * A clock whose sleep returns only when the test calls `poll()`, so every poll
 * of the follower happens at a known point. `poll()` resolves once that poll is
 * over and the follower sleeps again.
 */
function createSteppedClock() {
  let wake: (() => void) | null = null;
  let markAsleep: () => void = () => {};
  let asleep = new Promise<void>((resolve) => (markAsleep = resolve));
  const clock: Clock = {
    now: () => Date.now(),
    sleep: (_ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        wake = resolve;
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        markAsleep();
      }),
  };
  return {
    clock,
    async poll() {
      await asleep;
      asleep = new Promise<void>((resolve) => (markAsleep = resolve));
      const w = wake!;
      wake = null;
      w();
      await asleep;
    },
    started: () => asleep,
  };
}

let seq = 0;
/** A combined log line with a unique request path, so double counting is visible. */
function logLine(minute: number): string {
  seq++;
  return `10.0.0.1 - - [01/Mar/2024:10:${String(minute).padStart(2, "0")}:00 +0100] "GET /r${seq} HTTP/1.1" 200 1 "-" "t"\n`;
}
function lines(n: number, minute = 0): string {
  return Array.from({ length: n }, () => logLine(minute)).join("");
}

describe("followLog", () => {
  let dir: string;
  let path: string;
  let batches: FollowBatch[];
  let abort: AbortController;
  let stepped: ReturnType<typeof createSteppedClock>;
  let done: Promise<void>;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-follow-"));
    path = join(dir, "access.log");
    batches = [];
    abort = new AbortController();
    stepped = createSteppedClock();
  });
  afterEach(async () => {
    abort.abort();
    await done;
    await rm(dir, { recursive: true, force: true });
  });

  function start(extra: Partial<FollowOptions> = {}): void {
    done = followLog({
      path,
      signal: abort.signal,
      clock: stepped.clock,
      pollMs: 10,
      drainPolls: 2,
      onBatch: async (b) => void batches.push(b),
      ...extra,
    });
  }
  const counted = () => batches.reduce((sum, b) => sum + b.counted, 0);
  const requests = () => batches.flatMap((b) => b.minutes).reduce((sum, m) => sum + m.total, 0);

  test("reads new lines as they come; a partial last line waits for its newline", async () => {
    await writeFile(path, lines(3));
    start();
    await stepped.started();
    assert.equal(counted(), 3);
    const partial = logLine(0);
    await appendFile(path, partial.slice(0, 25));
    await stepped.poll();
    assert.equal(counted(), 3);
    await appendFile(path, partial.slice(25) + lines(1));
    await stepped.poll();
    assert.equal(counted(), 5);
    assert.equal(requests(), 5);
    // Batches tile the file: each starts where the one before ended.
    for (let i = 1; i < batches.length; i++) assert.equal(batches[i]!.start, batches[i - 1]!.end);
    assert.equal(batches.at(-1)!.key, batches[0]!.key);
    assert.match(batches[0]!.key, /^follow:[0-9a-f]{64}$/);
  });

  test("waits for a file that does not exist yet", async () => {
    start();
    await stepped.started();
    assert.equal(batches.length, 0);
    await writeFile(path, lines(2));
    await stepped.poll();
    assert.equal(counted(), 2);
  });

  test("rotation by rename: the old file is read to its end, then the new one from its start", async () => {
    await writeFile(path, lines(5, 0));
    start();
    await stepped.started();
    const tail = logLine(1);
    await appendFile(path, lines(2, 1) + tail.slice(0, 30)); // not read before the rename
    await rename(path, `${path}.1`);
    await writeFile(path, lines(3, 2));
    // The writer has not reopened its log yet: it finishes its line in the renamed file.
    await appendFile(`${path}.1`, tail.slice(30));
    await stepped.poll();
    await appendFile(`${path}.1`, lines(1, 1));
    await stepped.poll();
    await stepped.poll();
    await stepped.poll();
    assert.equal(counted(), 5 + 2 + 1 + 3 + 1);
    assert.equal(requests(), 12);
    const keys = [...new Set(batches.map((b) => b.key))];
    assert.equal(keys.length, 2);
    const perMinute = batches
      .flatMap((b) => b.minutes)
      .reduce(
        (m, x) => m.set(x.minute, (m.get(x.minute) ?? 0) + x.total),
        new Map<number, number>(),
      );
    assert.deepEqual([...perMinute.values()], [5, 4, 3]);
  });

  test("a rotated file's unterminated last line counts once the writer has left it", async () => {
    await writeFile(path, lines(2));
    start();
    await stepped.started();
    await appendFile(path, logLine(0).slice(0, -1)); // no newline, ever
    await rename(path, `${path}.1`);
    await writeFile(path, "");
    for (let i = 0; i < 4; i++) await stepped.poll();
    assert.equal(counted(), 3);
  });

  test("copytruncate: lines written before the truncation are read from the copy, then the log from 0", async () => {
    await writeFile(path, lines(5));
    start();
    await stepped.started();
    await appendFile(path, lines(2)); // written after the last poll: only the copy will have them
    await copyFile(path, `${path}.1`);
    await truncate(path, 0);
    await appendFile(path, lines(3, 5));
    for (let i = 0; i < 4; i++) await stepped.poll();
    assert.equal(counted(), 10);
    assert.equal(requests(), 10);
  });

  test("truncation without a copy restarts at 0, also when the file regrew past the old offset", async () => {
    await writeFile(path, lines(2));
    start();
    await stepped.started();
    await truncate(path, 0);
    await appendFile(path, lines(6, 3));
    await stepped.poll();
    assert.equal(counted(), 8);
    const keys = [...new Set(batches.map((b) => b.key))];
    assert.equal(keys.length, 2);
  });

  test("a restart resumes at the checkpoint of the file's key", async () => {
    const checkpoints = new Map<string, number>();
    const record = async (b: FollowBatch) => {
      batches.push(b);
      checkpoints.set(b.key, b.end);
    };
    await writeFile(path, lines(4));
    start({ onBatch: record, resume: async (key) => checkpoints.get(key) ?? null });
    await stepped.started();
    abort.abort();
    await done;
    assert.equal(counted(), 4);

    await appendFile(path, lines(3));
    abort = new AbortController();
    stepped = createSteppedClock();
    start({ onBatch: record, resume: async (key) => checkpoints.get(key) ?? null });
    await stepped.started();
    assert.equal(counted(), 7);
    assert.equal(batches.at(-1)!.start, batches.at(-2)!.end);
  });

  test("an error from onBatch stops the follow with that error", async () => {
    await writeFile(path, lines(1));
    start({
      onBatch: async () => {
        throw new Error("server down");
      },
    });
    await assert.rejects(done, /server down/);
    done = Promise.resolve();
  });
});
