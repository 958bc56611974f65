/**
 * Time as a dependency: production uses the system clock, tests and
 * simulations pass their own so that planners and schedulers run the same
 * code at any speed.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time, or rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A clock that runs `speed` times faster than the system's from `start`, once begun. */
export interface ScaledClock extends Clock {
  /** Starts the run; until then `now()` stays at `start`. Idempotent. */
  begin(): void;
  readonly speed: number;
}

/** For the demo's replay: a day of decisions in minutes, the same code as in production. */
export function createScaledClock(start: number, speed: number): ScaledClock {
  let began: number | null = null;
  return {
    speed,
    now: () => (began === null ? start : start + (Date.now() - began) * speed),
    sleep: (ms, signal) => systemClock.sleep(ms / speed, signal),
    begin() {
      began ??= Date.now();
    },
  };
}
