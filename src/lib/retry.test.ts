import assert from "node:assert/strict";
import { test } from "node:test";
import type { Clock } from "./clock.js";
import { retry } from "./retry.js";

/** Records each wait and returns at once. */
function recordingClock(): Clock & { waits: number[] } {
  const waits: number[] = [];
  return { waits, now: () => 0, sleep: async (ms) => void waits.push(ms) };
}

test("retries with full jitter under a doubling cap until the work succeeds", async () => {
  const clock = recordingClock();
  let calls = 0;
  const value = await retry(
    async (attempt) => {
      calls++;
      if (attempt < 4) throw new Error("flaky");
      return "done";
    },
    { clock, retryable: () => true, baseDelayMs: 100, maxDelayMs: 500, random: () => 1 },
  );
  assert.equal(value, "done");
  assert.equal(calls, 4);
  assert.deepEqual(clock.waits, [200, 400, 500]);
});

test("a refused error, the last attempt and an abort end the retries", async () => {
  const clock = recordingClock();
  const fatal = new Error("fatal");
  await assert.rejects(
    retry(
      async () => {
        throw fatal;
      },
      { clock, retryable: (err) => err !== fatal },
    ),
    fatal,
  );
  let tries = 0;
  const retried: number[] = [];
  await assert.rejects(
    retry(
      async () => {
        tries++;
        throw new Error(`try ${tries}`);
      },
      { clock, retryable: () => true, attempts: 3, onRetry: (_err, n) => void retried.push(n) },
    ),
    /try 3/,
  );
  assert.deepEqual(retried, [1, 2]);
  const controller = new AbortController();
  controller.abort(new Error("stopped"));
  await assert.rejects(
    retry(
      async () => {
        throw new Error("down");
      },
      { clock, signal: controller.signal, retryable: () => true },
    ),
    /stopped/,
  );
});
