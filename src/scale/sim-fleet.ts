import type { Clock } from "../lib/clock.js";
import type { FleetSnapshot, ScalePort } from "./executor.js";

/** A clock the simulator sets; sleepers wake when it passes their time. */
export interface SimClock extends Clock {
  set(now: number): void;
}

export function createSimClock(start: number): SimClock {
  let now = start;
  let sleepers: { at: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        sleepers.push({ at: now + ms, wake: resolve });
      }),
    set(to) {
      now = to;
      if (sleepers.length === 0) return;
      const due = sleepers.filter((s) => s.at <= now);
      sleepers = sleepers.filter((s) => s.at > now);
      for (const s of due) s.wake();
    },
  };
}

/** Options of {@link createSimulatedFleet}. */
export interface SimulatedFleetOptions {
  clock: Clock;
  /** A server launched at t is billed from t and serves from t + lag. */
  lagMs: number;
  /** Servers in service at the start (launched earlier, their lags known). @default 0 */
  initial?: number;
}

/**
 * A provider, balancer and fleet in one, counted rather than listed so that a fleet of
 * 10,000 servers costs what a fleet of 10 does. Retiring takes launching servers first
 * (newest first: they carry nothing yet), then servers in service, at once (no drain time).
 */
export interface SimulatedFleet extends ScalePort {
  /** Moves servers whose lag has passed into service. Call with non-decreasing times. */
  advance(now: number): void;
  /** Servers in service at `t` (>= the last `advance`), counting launches ready by then. */
  inServiceAt(t: number): number;
  /** Servers billed now: in service plus launching. */
  alive(): number;
  /** Service-in lags of recent launches (ms), oldest first; at most 20 kept. */
  lags(): number[];
}

export function createSimulatedFleet(options: SimulatedFleetOptions): SimulatedFleet {
  const { clock, lagMs } = options;
  let inService = options.initial ?? 0;
  // Batches in launch order; a constant lag keeps them in ready order too.
  const batches: { readyAt: number; count: number }[] = [];
  let head = 0;
  let launching = 0;
  const lags: number[] = Array.from({ length: Math.min(20, inService) }, () => lagMs);
  const snapshot = (): FleetSnapshot => ({ inService, launching, away: 0, draining: 0 });
  return {
    snapshot: async () => snapshot(),
    async launch(count) {
      batches.push({ readyAt: clock.now() + lagMs, count });
      launching += count;
    },
    async retire(count) {
      let left = count;
      while (left > 0 && batches.length > head) {
        const b = batches[batches.length - 1] as { readyAt: number; count: number };
        const take = Math.min(left, b.count);
        b.count -= take;
        launching -= take;
        left -= take;
        if (b.count === 0) batches.pop();
      }
      inService = Math.max(0, inService - left);
      return [];
    },
    advance(now) {
      while (head < batches.length && (batches[head] as { readyAt: number }).readyAt <= now) {
        const b = batches[head++] as { readyAt: number; count: number };
        inService += b.count;
        launching -= b.count;
        for (let i = 0; i < Math.min(b.count, 20); i++) lags.push(lagMs);
        if (lags.length > 40) lags.splice(0, lags.length - 20);
      }
      if (head > 1024) {
        batches.splice(0, head);
        head = 0;
      }
    },
    inServiceAt(t) {
      let n = inService;
      for (let i = head; i < batches.length; i++) {
        const b = batches[i] as { readyAt: number; count: number };
        if (b.readyAt > t) break;
        n += b.count;
      }
      return n;
    },
    alive: () => inService + launching,
    lags: () => lags.slice(-20),
  };
}
