/** Requests in one UTC minute, by status class. `total` also counts 1xx and unknown codes. */
export interface MinuteCounts {
  /** Start of the minute, Unix ms (UTC). */
  minute: number;
  total: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

/** Per-minute totals of one stream of requests, filled line by line. Not shared between streams. */
export interface MinuteCounter {
  /** Counts one request; `minute` is a minute start in Unix ms, `status` the HTTP status code. */
  add(minute: number, status: number): void;
  /** Minutes with at least one request. */
  readonly size: number;
  /** The counts, oldest minute first. */
  toArray(): MinuteCounts[];
  /** Returns the counts (oldest first) and starts over empty. */
  take(): MinuteCounts[];
}

// Slot layout in the flat counts array: total, 2xx, 3xx, 4xx, 5xx.
const WIDTH = 5;

export function createMinuteCounter(): MinuteCounter {
  let slots = new Map<number, number>();
  let counts = new Float64Array(WIDTH * 64);
  let used = 0;
  let lastMinute = Number.NaN;
  let lastBase = 0;

  function slotOf(minute: number): number {
    let base = slots.get(minute);
    if (base === undefined) {
      base = used * WIDTH;
      if (base + WIDTH > counts.length) {
        const grown = new Float64Array(counts.length * 2);
        grown.set(counts);
        counts = grown;
      }
      used++;
      slots.set(minute, base);
    }
    return base;
  }

  function toArray(): MinuteCounts[] {
    const out: MinuteCounts[] = [];
    for (const [minute, base] of slots) {
      out.push({
        minute,
        total: counts[base]!,
        s2xx: counts[base + 1]!,
        s3xx: counts[base + 2]!,
        s4xx: counts[base + 3]!,
        s5xx: counts[base + 4]!,
      });
    }
    return out.sort((a, b) => a.minute - b.minute);
  }

  return {
    add(minute, status) {
      if (minute !== lastMinute) {
        lastBase = slotOf(minute);
        lastMinute = minute;
      }
      counts[lastBase]!++;
      const cls = (status / 100) | 0;
      if (cls >= 2 && cls <= 5) counts[lastBase + cls - 1]!++;
    },
    get size() {
      return slots.size;
    },
    toArray,
    take() {
      const out = toArray();
      slots = new Map();
      counts = new Float64Array(WIDTH * 64);
      used = 0;
      lastMinute = Number.NaN;
      return out;
    },
  };
}

/** Adds `b` into `a` minute by minute; both and the result are sorted by minute. */
export function mergeMinuteCounts(a: MinuteCounts[], b: MinuteCounts[]): MinuteCounts[] {
  const byMinute = new Map<number, MinuteCounts>();
  for (const m of [...a, ...b]) {
    const have = byMinute.get(m.minute);
    if (!have) byMinute.set(m.minute, { ...m });
    else {
      have.total += m.total;
      have.s2xx += m.s2xx;
      have.s3xx += m.s3xx;
      have.s4xx += m.s4xx;
      have.s5xx += m.s5xx;
    }
  }
  return [...byMinute.values()].sort((x, y) => x.minute - y.minute);
}
