import { StrataError } from "../../lib/errors.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Local time in one IANA zone, through `Intl.DateTimeFormat` (no tz database of our own).
 * Build one per zone and reuse it: constructing the formatter is the expensive part.
 */
export interface Zone {
  readonly name: string;
  /** Offset of local time from UTC at `utc` (Unix ms), in ms; +01:00 is 3,600,000. */
  offset(utc: number): number;
  /** The local clock reading at `utc`, as if it were UTC ms (what the forecast models call wall-clock). */
  wall(utc: number): number;
  /** Local calendar day at `utc`, `YYYY-MM-DD`. */
  day(utc: number): string;
  /** Local minutes since midnight at `utc`, 0..1439. */
  minuteOfDay(utc: number): number;
  /**
   * First instant after `after` whose local time is `minute` minutes past midnight, or, when
   * a DST change skips that time on a day, the first instant of that day after it.
   */
  next(after: number, minute: number): number;
}

/** Builds a Zone; rejects names `Intl` does not know. */
export function createZone(name: string): Zone {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: name,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch (err) {
    throw new StrataError("bad_request", `[forecast] unknown time zone "${name}"`, { cause: err });
  }
  const wall = (utc: number): number => {
    const f: Record<string, number> = {};
    for (const p of format.formatToParts(utc))
      if (p.type !== "literal") f[p.type] = Number(p.value);
    const seconds = Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!);
    // formatToParts drops milliseconds.
    return seconds + (((utc % 1000) + 1000) % 1000);
  };
  const offset = (utc: number) => wall(utc) - utc;

  return {
    name: format.resolvedOptions().timeZone,
    offset,
    wall,
    day: (utc) => new Date(wall(utc)).toISOString().slice(0, 10),
    minuteOfDay: (utc) => Math.floor((((wall(utc) % DAY_MS) + DAY_MS) % DAY_MS) / 60_000),
    next(after, minute) {
      const midnight = Math.floor(wall(after) / DAY_MS) * DAY_MS;
      for (let d = 0; d < 3; d++) {
        const target = midnight + d * DAY_MS + minute * 60_000;
        // Two refinements settle the offset on either side of a DST change.
        let utc = target - offset(target);
        utc = target - offset(utc);
        if (wall(utc) !== target) {
          // A skipped local time: the change itself is the first instant at or after it.
          utc = firstAtOrAfter(wall, target, utc - 2 * HOUR_MS, utc + 2 * HOUR_MS);
        }
        if (utc > after) return utc;
      }
      throw new StrataError(
        "internal",
        `[forecast] ${name}: no local time ${minute} min after ${after}`,
      );
    },
  };
}

/** Smallest UTC minute in [lo, hi] whose wall time is at or after `target` (wall is monotonic there but for a fold). */
function firstAtOrAfter(
  wall: (utc: number) => number,
  target: number,
  lo: number,
  hi: number,
): number {
  let a = Math.floor(lo / 60_000);
  let b = Math.ceil(hi / 60_000);
  while (a < b) {
    const mid = Math.floor((a + b) / 2);
    if (wall(mid * 60_000) >= target) b = mid;
    else a = mid + 1;
  }
  return a * 60_000;
}
