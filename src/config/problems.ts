/**
 * How config errors word values and unknown keys. No zod here: the agent
 * reads an app's strata.yaml too, and its bundle stays small.
 */

/** How a value reads in an error: `"2x"`, `250`, `a list`, `nothing`. */
export function kind(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value);
}

/** `unknown key (expected one of ...)`, with a "did you mean" when one expected key is close. */
export function unknownKey(key: string, expected: readonly string[]): string {
  const near = expected
    .map((candidate) => ({ candidate, distance: editDistance(key, candidate) }))
    .filter(({ distance }) => distance <= Math.max(1, Math.floor(key.length / 3)))
    .sort((a, b) => a.distance - b.distance)[0];
  const hint = near ? `did you mean ${near.candidate}? ` : "";
  return `unknown key (${hint}expected one of ${expected.join(", ")})`;
}

/** Levenshtein distance with adjacent transpositions (`timeuot` is one edit from `timeout`). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}
