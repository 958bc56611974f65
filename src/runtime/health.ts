import { get } from "node:http";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import type { HealthDefinition } from "../config/app-definition.js";

export interface CheckHealthOptions {
  host: string;
  port: number;
  health: HealthDefinition;
  clock: Clock;
  signal?: AbortSignal;
}

/**
 * GETs the app's health path until it answers the expected status, at most
 * `1 + retries` times, waiting 20 ms, 40 ms, ... up to `intervalMs` between
 * tries. Resolves with the number of tries; throws
 * `health_check_failed` naming the last answer. Read-only, may run concurrently.
 */
export async function checkHealth(options: CheckHealthOptions): Promise<number> {
  const { health, clock, signal } = options;
  const url = `http://${options.host}:${options.port}${health.path}`;
  let last = "";
  for (let attempt = 1; ; attempt++) {
    try {
      const status = await getStatus(url, health.timeoutMs, signal);
      if (status === health.status) return attempt;
      last = `HTTP ${status}`;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      last = (err as NodeJS.ErrnoException).code ?? messageOf(err);
    }
    if (attempt > health.retries) {
      throw new StrataError(
        "health_check_failed",
        `[agent] health_check: GET ${url}: expected ${health.status}, got ${last} (${attempt} tries)`,
      );
    }
    // The first tries come quickly (an app usually listens within tens of
    // milliseconds), then back off to the configured interval.
    await clock.sleep(Math.min(health.intervalMs, 20 * 2 ** (attempt - 1)), signal);
  }
}

/** One try: does the app answer as expected right now? */
export function isHealthy(options: CheckHealthOptions): Promise<boolean> {
  return checkHealth({ ...options, health: { ...options.health, retries: 0 } }).then(
    () => true,
    () => false,
  );
}

// node:http rather than fetch: fetch refuses "bad ports" (6000, 6665...) that an app may well use.
function getStatus(url: string, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { signal, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error("timed out"), { code: "timed out" })),
    );
    req.on("error", reject);
  });
}
