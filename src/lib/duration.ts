/**
 * The one duration grammar of strata, in YAML and on the command line alike:
 * a number and a unit, `500ms`, `90s`, `10m`, `1.5h`, `28d`, `2w`. A bare
 * number is refused: `--min-history 28` once meant days on the CLI and hours
 * in YAML, and a unit removes the guess.
 */
const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;

/** Milliseconds of a duration, or null when `value` is not one. */
export function parseDuration(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  return Math.round(Number(match[1]) * UNITS[match[2] as keyof typeof UNITS]);
}

/** A short human form: `90s`, `10m`, `28d` (the largest unit that divides it, else ms). */
export function formatDuration(ms: number): string {
  for (const unit of ["w", "d", "h", "m", "s"] as const) {
    if (ms >= UNITS[unit] && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

export const DURATION_HINT = 'a duration with a unit, like "500ms", "90s", "10m", "6h" or "28d"';
