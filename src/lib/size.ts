/**
 * Byte sizes in config and flags: a whole number and a unit, `512KiB`,
 * `64MiB`, `2GiB` (also `B`, and the decimal `KB`, `MB`, `GB`). A bare number
 * is refused, as for durations: the unit removes the guess.
 */
const UNITS = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
} as const;

const PATTERN = /^(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;

/** Bytes of a size, or null when `value` is not one. */
export function parseSize(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const match = PATTERN.exec(value.trim());
  if (!match) return null;
  return Number(match[1]) * UNITS[match[2] as keyof typeof UNITS];
}

export const SIZE_HINT = 'a size with a unit, like "512MiB" or "2GiB"';
