import type { Clock } from "./clock.js";

export interface RetryOptions {
  clock: Clock;
  /** Stops the retries: the pending wait rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Whether an error is worth another try; anything else is rethrown at once. */
  retryable: (err: unknown) => boolean;
  /** Tries in all. @default Infinity */
  attempts?: number;
  /** Cap of the first wait; doubles per try. @default 250 */
  baseDelayMs?: number;
  /** @default 30000 */
  maxDelayMs?: number;
  /** Called before each wait (logging, rejoining after a 401). Must not throw. */
  onRetry?: (err: unknown, attempt: number) => void | Promise<void>;
  /** @default Math.random */
  random?: () => number;
}

/**
 * The agent's one retry policy: calls `work(attempt)` (attempt counts from 1)
 * until it resolves, waiting a random time up to `baseDelayMs * 2^attempt`
 * (capped at `maxDelayMs`; "full jitter", so a fleet woken at once does not
 * retry in step). Rethrows the last error when it is not retryable or the
 * attempts are used up; rejects with the signal's reason once it aborts.
 */
export async function retry<T>(
  work: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { clock, signal } = options;
  const attempts = options.attempts ?? Infinity;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!options.retryable(err) || attempt >= attempts) throw err;
      await options.onRetry?.(err, attempt);
      const cap = Math.min(
        options.maxDelayMs ?? 30_000,
        (options.baseDelayMs ?? 250) * 2 ** attempt,
      );
      await clock.sleep(random() * cap, signal);
    }
  }
}
