/**
 * Byte-level timestamp parsers for log lines. Each returns the start of the
 * UTC minute (Unix ms) the instant falls in, or NaN. The written zone offset is
 * applied, so `13:55:36 -0700` and `20:55:36Z` land in the same minute.
 * Instants outside the UTC years 1970..9999 are rejected: they are garbage,
 * not traffic. The range is judged on the UTC instant, not on the written
 * wall clock, so `01/Jan/1970:00:30:00 +0100` (UTC 1969) is rejected too.
 */

const MINUTE_MS = 60_000;
/** 10000-01-01T00:00:00Z, the first instant past the range. */
const END_OF_RANGE_MS = 253_402_300_800_000;

/** `ms` when it lies in the UTC years 1970..9999, else NaN. */
export function inUtcRange(ms: number): number {
  return ms >= 0 && ms < END_OF_RANGE_MS ? ms : NaN;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * A validated wall-clock reading as ms since the epoch, taken as if it were UTC
 * (no range check: add the zone, then judge the instant with {@link inUtcRange}); NaN if invalid.
 */
export function wallMinute(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
): number {
  if (!(year >= 0 && year <= 9999 && month >= 1 && month <= 12 && day >= 1)) return NaN;
  if (day > daysInMonth(year, month) || !(hour <= 23 && minute <= 59)) return NaN;
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * MINUTE_MS;
}

/** Epoch minute of a local wall time minus its zone offset (minutes east of UTC); NaN if invalid or out of range. */
export function utcMinute(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  offsetMinutes: number,
): number {
  return inUtcRange(wallMinute(year, month, day, hour, minute) - offsetMinutes * MINUTE_MS);
}

function digit(b: number | undefined): number {
  // b is undefined past the end of the buffer: (undefined - 48) is NaN, which fails every check below.
  return (b as number) - 48;
}

export function two(buf: Uint8Array, i: number): number {
  const a = digit(buf[i]);
  const b = digit(buf[i + 1]);
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
}

export function four(buf: Uint8Array, i: number): number {
  const hi = two(buf, i);
  const lo = two(buf, i + 2);
  return hi * 100 + lo;
}

/** Month number of a 3-letter English abbreviation (any case), or 0. */
export function monthOf(b0: number, b1: number, b2: number): number {
  switch (((b0 | 0x20) << 16) | ((b1 | 0x20) << 8) | (b2 | 0x20)) {
    case 0x6a616e:
      return 1; // jan
    case 0x666562:
      return 2; // feb
    case 0x6d6172:
      return 3; // mar
    case 0x617072:
      return 4; // apr
    case 0x6d6179:
      return 5; // may
    case 0x6a756e:
      return 6; // jun
    case 0x6a756c:
      return 7; // jul
    case 0x617567:
      return 8; // aug
    case 0x736570:
      return 9; // sep
    case 0x6f6374:
      return 10; // oct
    case 0x6e6f76:
      return 11; // nov
    case 0x646563:
      return 12; // dec
    default:
      return 0;
  }
}

/** Length of a CLF timestamp: `10/Oct/2000:13:55:36 -0700`. */
export const CLF_TIME_LENGTH = 26;

/** Parses a CLF timestamp (`10/Oct/2000:13:55:36 -0700`, no brackets) starting at `i`. */
export function parseClfTime(buf: Uint8Array, i: number): number {
  if (buf[i + 2] !== 0x2f || buf[i + 6] !== 0x2f || buf[i + 11] !== 0x3a) return NaN;
  if (buf[i + 14] !== 0x3a || buf[i + 17] !== 0x3a || buf[i + 20] !== 0x20) return NaN;
  const month = monthOf(buf[i + 3]!, buf[i + 4]!, buf[i + 5]!);
  const sign = buf[i + 21];
  const zone = two(buf, i + 22) * 60 + two(buf, i + 24);
  if (month === 0 || !(sign === 0x2b || sign === 0x2d) || !(zone <= 14 * 60)) return NaN;
  if (!(two(buf, i + 18) <= 60)) return NaN;
  return utcMinute(
    four(buf, i + 7),
    month,
    two(buf, i),
    two(buf, i + 12),
    two(buf, i + 15),
    sign === 0x2b ? zone : -zone,
  );
}

/** The fields of an ISO 8601 time as written, filled by {@link scanIsoTime}. */
export interface IsoTimeFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** Minutes east of UTC; 0 when no zone is written. */
  offsetMinutes: number;
  /** What zone was written: none (a naive time), `Z`, or a numeric offset. */
  zone: "none" | "z" | "offset";
}

/** A fresh fields object for {@link scanIsoTime} to fill. */
export function newIsoTimeFields(): IsoTimeFields {
  return {
    year: 0,
    month: 0,
    day: 0,
    hour: 0,
    minute: 0,
    second: 0,
    millisecond: 0,
    offsetMinutes: 0,
    zone: "none",
  };
}

/**
 * Scans ISO 8601 / RFC 3339 in [start, end) into `out`: `2000-10-10T13:55:36-07:00`,
 * `...T20:55:36.123Z`, `...T13:55:36-0700`, `...+07`, a space instead of `T`, seconds
 * optional. Checks the syntax and the field ranges (not the day of the month: see
 * {@link wallMinute}). Returns false when the text is not such a time.
 */
export function scanIsoTime(
  buf: Uint8Array,
  start: number,
  end: number,
  out: IsoTimeFields,
): boolean {
  let i = start;
  if (end - i < 16 || buf[i + 4] !== 0x2d || buf[i + 7] !== 0x2d) return false;
  const sep = buf[i + 10];
  if (!(sep === 0x54 || sep === 0x74 || sep === 0x20) || buf[i + 13] !== 0x3a) return false;
  out.year = four(buf, i);
  out.month = two(buf, i + 5);
  out.day = two(buf, i + 8);
  out.hour = two(buf, i + 11);
  out.minute = two(buf, i + 14);
  out.second = 0;
  out.millisecond = 0;
  out.offsetMinutes = 0;
  out.zone = "none";
  i += 16;
  if (i < end && buf[i] === 0x3a) {
    out.second = two(buf, i + 1);
    if (!(out.second <= 60)) return false;
    i += 3;
    if (i < end && (buf[i] === 0x2e || buf[i] === 0x2c)) {
      i++;
      const fracStart = i;
      let fraction = 0;
      let scale = 0.1;
      while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) {
        fraction += (buf[i]! - 48) * scale;
        scale /= 10;
        i++;
      }
      if (i === fracStart) return false;
      out.millisecond = Math.min(999, Math.round(fraction * 1000));
    }
  }
  if (i < end) {
    const z = buf[i];
    if (z === 0x5a || z === 0x7a) {
      out.zone = "z";
      i++;
    } else if (z === 0x2b || z === 0x2d) {
      const hh = two(buf, i + 1);
      let mm = 0;
      let length = 3; // +hh
      if (end - i >= 6 && buf[i + 3] === 0x3a) {
        mm = two(buf, i + 4);
        length = 6; // +hh:mm
      } else if (end - i >= 5) {
        mm = two(buf, i + 3);
        length = 5; // +hhmm
      }
      if (!(hh <= 14 && mm <= 59)) return false;
      out.offsetMinutes = (z === 0x2b ? 1 : -1) * (hh * 60 + mm);
      out.zone = "offset";
      i += length;
    }
  }
  return i === end;
}

// parseIsoTime runs once per log line: it reuses one fields object (it does not call out while filling it).
const isoScratch = newIsoTimeFields();

/**
 * Parses ISO 8601 / RFC 3339 in [start, end) (see {@link scanIsoTime}) to its UTC
 * minute. Without a zone the time is taken as UTC.
 */
export function parseIsoTime(buf: Uint8Array, start: number, end: number): number {
  const t = isoScratch;
  if (!scanIsoTime(buf, start, end, t)) return NaN;
  return utcMinute(t.year, t.month, t.day, t.hour, t.minute, t.offsetMinutes);
}

/** Ms since the epoch of a Unix epoch number whose unit is guessed as {@link minuteOfEpoch} says; NaN out of range. */
export function msOfEpoch(value: number): number {
  if (!Number.isFinite(value) || value < 0) return NaN;
  let ms = value;
  if (value < 1e11) ms = value * 1000;
  else if (value >= 1e17) ms = value / 1e6;
  else if (value >= 1e14) ms = value / 1e3;
  return inUtcRange(ms);
}

/**
 * Minute of a Unix epoch number whose unit is guessed from its size: seconds
 * below 1e11 (until year 5138), then milliseconds, microseconds, nanoseconds.
 */
export function minuteOfEpoch(value: number): number {
  return Math.floor(msOfEpoch(value) / MINUTE_MS) * MINUTE_MS;
}
