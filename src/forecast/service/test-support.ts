import type { Clock } from "../../lib/clock.js";

/** A Clock that moves only when told; sleepers wake in time order. For tests. */
export interface ManualClock extends Clock {
  /** Moves time to `to`, waking each sleeper due by then and letting it run until it sleeps again. */
  advanceTo(to: number): Promise<void>;
  /** Sleepers waiting. */
  pending(): number;
}

export function createManualClock(start: number): ManualClock {
  let now = start;
  const sleepers: { at: number; wake: () => void }[] = [];
  const settle = async () => {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const sleeper = { at: now + ms, wake: () => resolve() };
        sleepers.push(sleeper);
        signal?.addEventListener(
          "abort",
          () => {
            sleepers.splice(sleepers.indexOf(sleeper), 1);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    },
    async advanceTo(to) {
      for (;;) {
        await settle();
        sleepers.sort((a, b) => a.at - b.at);
        const next = sleepers[0];
        if (!next || next.at > to) break;
        sleepers.shift();
        now = Math.max(now, next.at);
        next.wake();
      }
      now = Math.max(now, to);
      await settle();
    },
    pending: () => sleepers.length,
  };
}
