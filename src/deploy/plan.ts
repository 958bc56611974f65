import { StrataError } from "../lib/errors.js";
import type { Strategy } from "../wire/deployment.js";

export const STRATEGIES: readonly Strategy[] = ["rolling", "canary", "all-at-once"];

/** Resolves a batch spec ("2", "25%") against a fleet size: at least 1, at most `total`. */
export function batchSize(spec: string, total: number): number {
  const match = /^(\d+)(%?)$/.exec(spec.trim());
  if (!match) {
    throw new StrataError(
      "bad_request",
      `[deploy] batch: expected a count or a percentage, got "${spec}"`,
    );
  }
  const value = Number(match[1]);
  if (value <= 0)
    throw new StrataError("bad_request", `[deploy] batch: must be above 0, got "${spec}"`);
  const size = match[2] ? Math.floor((total * value) / 100) : value;
  return Math.max(1, Math.min(size, Math.max(total, 1)));
}

/**
 * Splits servers into waves. rolling: batches of `batch`; canary: one server,
 * then batches of `batch`; all-at-once: one wave. Order is kept.
 */
export function planWaves(servers: readonly string[], strategy: Strategy, batch = "1"): string[][] {
  if (!STRATEGIES.includes(strategy)) {
    throw new StrataError(
      "bad_request",
      `[deploy] strategy: unknown "${strategy}" (expected ${STRATEGIES.join(", ")})`,
    );
  }
  if (servers.length === 0) return [];
  if (strategy === "all-at-once") return [[...servers]];
  const size = batchSize(batch, servers.length);
  const rest = strategy === "canary" ? servers.slice(1) : [...servers];
  const waves = strategy === "canary" ? [[servers[0]!]] : [];
  for (let i = 0; i < rest.length; i += size) waves.push(rest.slice(i, i + size));
  return waves;
}
