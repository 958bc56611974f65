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

export interface DurationLimits {
  /** Smallest accepted value in ms. @default 1 (positive) */
  min?: number;
  /** Largest accepted value in ms. */
  max?: number;
  /** Only whole hours (`48h`, `7d`, `8w`). */
  wholeHours?: boolean;
  /**
   * What a bare number meant where it was read before the one grammar, so
   * the error can say what to write instead (`stop_timeout: 250` was ms).
   */
  bareUnit?: "ms" | "h" | "d";
}

const BARE_UNIT_NAMES = { ms: "milliseconds", h: "hours", d: "days" } as const;

/** The milliseconds of `value`, or the problem with it as an error names it after the key. */
export function checkDuration(
  value: unknown,
  limits: DurationLimits = {},
): { ms: number } | { problem: string } {
  const { min = 1, max, wholeHours, bareUnit } = limits;
  const shown = value === undefined || value === null ? "nothing" : JSON.stringify(value);
  const ms = parseDuration(value);
  if (ms === null) {
    const bare = typeof value === "number" ? value : typeof value === "string" ? value.trim() : "";
    if (bare !== "" && Number.isFinite(Number(bare)) && Number(bare) >= 0) {
      const meant = bareUnit
        ? ` (a bare number meant ${BARE_UNIT_NAMES[bareUnit]} here before: write "${bare}${bareUnit}")`
        : "";
      return { problem: `expected ${DURATION_HINT}, got the bare number ${bare}${meant}` };
    }
    return { problem: `expected ${DURATION_HINT}, got ${shown}` };
  }
  if (ms < min) {
    const floor = min <= 1 ? "more than 0" : `at least ${formatDuration(min)}`;
    return { problem: `must be ${floor}, got ${shown}` };
  }
  if (max !== undefined && ms > max)
    return { problem: `must be at most ${formatDuration(max)}, got ${shown}` };
  if (wholeHours && ms % 3_600_000 !== 0)
    return { problem: `must be whole hours like 48h, 7d or 8w, got ${shown}` };
  return { ms };
}
