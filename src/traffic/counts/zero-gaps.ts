const HOUR_MS = 3_600_000;

/**
 * Zero-run rule: a run of exact zeros is treated as missing data (a hole in the source
 * logs, not silent traffic) when it lasts at least `minHours` and the series' typical
 * traffic over the same hours of day adds up to at least `minExpected` requests, i.e.
 * all-zero would have Poisson probability below e^-minExpected.
 */
export interface ZeroRunRule {
  /**
   * Shortest run judged (the Poisson bound does the rest: a two-hour collection outage of
   * 300 expected mentions is a gap, a night of near-silence is not). @default 1
   */
  minHours: number;
  /** @default 50 */
  minExpected: number;
}

export const DEFAULT_ZERO_RUN: ZeroRunRule = Object.freeze({ minHours: 1, minExpected: 50 });

/** A run of zeros judged to be missing data. Times are wall-clock as written. */
export interface ZeroGap {
  from: string;
  to: string;
  rows: number;
  /** Requests the series' hour-of-day medians predict over the run. */
  expected: number;
}

/** A run of consecutive zero rows, as read in file order. */
export interface ZeroRun {
  firstWall: number;
  lastWall: number;
  firstText: string;
  lastText: string;
  rows: number;
}

/** Collects the runs of zero rows of a file read in time order. */
export function createZeroRunTracker(): {
  /** A zero row at wall time `wall`, its timestamp written as `text`. */
  zero(wall: number, text: string): void;
  /** A non-zero or missing row ends the current run. */
  other(): void;
  /** Every run so far, the current one closed. */
  runs(): ZeroRun[];
} {
  const runs: ZeroRun[] = [];
  let run: ZeroRun | undefined;
  const close = () => {
    if (run) runs.push(run);
    run = undefined;
  };
  return {
    zero(wall, text) {
      if (run) {
        run.lastWall = wall;
        run.lastText = text;
        run.rows++;
      } else run = { firstWall: wall, lastWall: wall, firstText: text, lastText: text, rows: 1 };
    },
    other: close,
    runs() {
      close();
      return runs;
    },
  };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The runs that the rule judges missing data, and the hour indices (into `totals`) they
 * cover. The typical traffic of an hour of day is the median of the complete hours outside
 * long runs; `firstKey` is the wall-clock hour number of `totals[0]`.
 */
export function findZeroGaps(
  runs: ZeroRun[],
  rule: ZeroRunRule,
  stepSeconds: number,
  firstKey: number,
  totals: number[],
  complete: boolean[],
): { gaps: ZeroGap[]; hours: number[] } {
  const stepMs = stepSeconds * 1000;
  const long = runs.filter((r) => r.lastWall + stepMs - r.firstWall >= rule.minHours * HOUR_MS);
  if (long.length === 0) return { gaps: [], hours: [] };
  const inRun = new Set<number>();
  for (const r of long) {
    for (let k = Math.floor(r.firstWall / HOUR_MS); k <= Math.floor(r.lastWall / HOUR_MS); k++) {
      inRun.add(k - firstKey);
    }
  }
  const byHour: number[][] = Array.from({ length: 24 }, () => []);
  totals.forEach((v, i) => {
    if (complete[i] && !inRun.has(i)) byHour[(((firstKey + i) % 24) + 24) % 24]?.push(v);
  });
  const profile = byHour.map(median);
  const gaps: ZeroGap[] = [];
  const hours: number[] = [];
  for (const r of long) {
    const from = r.firstWall;
    const to = r.lastWall + stepMs;
    let expected = 0;
    const covered: number[] = [];
    for (let k = Math.floor(from / HOUR_MS); k * HOUR_MS < to; k++) {
      const overlap = Math.min(to, (k + 1) * HOUR_MS) - Math.max(from, k * HOUR_MS);
      const typical = profile[((k % 24) + 24) % 24] ?? NaN;
      if (Number.isFinite(typical)) expected += (typical * overlap) / HOUR_MS;
      covered.push(k - firstKey);
    }
    if (expected >= rule.minExpected) {
      gaps.push({
        from: r.firstText,
        to: r.lastText,
        rows: r.rows,
        expected: Math.round(expected),
      });
      hours.push(...covered);
    }
  }
  return { gaps, hours };
}
