import type { LineParser } from "./line-parser.js";
import { CLF_TIME_LENGTH, four, inUtcRange, monthOf, two, wallMinute } from "./timestamp.js";

const SPACE = 0x20;
const SLASH = 0x2f;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/**
 * NCSA common and combined log format (nginx `combined`, Apache `%h %l %u %t
 * "%r" %>s %b` [`"%{Referer}i" "%{User-agent}i"`]), read by a hand scanner:
 * host, `[time]`, quoted request, 3-digit status, bytes. Both names accept
 * both shapes; `out.format` says whether referer and user agent followed.
 * Only the time and the status are decoded.
 */
export function createClfParser(): LineParser {
  // Most lines share their date with the line before: cache its 11 bytes and its epoch minute at 00:00.
  const cachedDate = new Uint8Array(11);
  let cachedDateMinute = NaN;

  function minuteOf(buf: Buffer, t: number): number {
    let same = cachedDateMinute === cachedDateMinute;
    for (let k = 0; same && k < 11; k++) same = buf[t + k] === cachedDate[k];
    if (!same) {
      if (buf[t + 2] !== SLASH || buf[t + 6] !== SLASH) return NaN;
      const month = monthOf(buf[t + 3]!, buf[t + 4]!, buf[t + 5]!);
      const midnight = wallMinute(four(buf, t + 7), month, two(buf, t), 0, 0);
      if (midnight !== midnight) return NaN;
      for (let k = 0; k < 11; k++) cachedDate[k] = buf[t + k]!;
      cachedDateMinute = midnight / 60_000;
    }
    // Same date: only hour, minute, seconds and zone need checking and decoding.
    if (
      buf[t + 11] !== 0x3a ||
      buf[t + 14] !== 0x3a ||
      buf[t + 17] !== 0x3a ||
      buf[t + 20] !== SPACE
    ) {
      return NaN;
    }
    const h1 = buf[t + 12]! - 48;
    const h2 = buf[t + 13]! - 48;
    const m1 = buf[t + 15]! - 48;
    const m2 = buf[t + 16]! - 48;
    const s1 = buf[t + 18]! - 48;
    const s2 = buf[t + 19]! - 48;
    if (!(h1 >= 0 && h1 <= 2 && h2 >= 0 && h2 <= 9 && m1 >= 0 && m1 <= 5 && m2 >= 0 && m2 <= 9)) {
      return NaN;
    }
    if (!(s1 >= 0 && s1 <= 6 && s2 >= 0 && s2 <= 9)) return NaN;
    const hour = h1 * 10 + h2;
    if (hour > 23) return NaN;
    const zone = zoneMinutes(buf, t);
    if (zone !== zone) return NaN;
    return inUtcRange((cachedDateMinute + hour * 60 + m1 * 10 + m2 - zone) * 60_000);
  }

  return (buf, start, end, out) => {
    let i = start;
    while (i < end && buf[i] !== SPACE) i++;
    if (i === start) return false;
    while (i < end && buf[i] !== OPEN_BRACKET) i++;
    const t = i + 1;
    // `[` + time + `] "` and at least `"` closing the request.
    if (t + CLF_TIME_LENGTH + 3 >= end || buf[t + CLF_TIME_LENGTH] !== CLOSE_BRACKET) return false;
    if (buf[t + CLF_TIME_LENGTH + 1] !== SPACE || buf[t + CLF_TIME_LENGTH + 2] !== QUOTE)
      return false;
    const minute = minuteOf(buf, t);
    if (minute !== minute) return false;

    // The request ends at a quote followed by ` NNN` and a space or the end of the line.
    let q = t + CLF_TIME_LENGTH + 3;
    for (;;) {
      while (q < end && buf[q] !== QUOTE) q++;
      if (q + 5 > end) return false;
      if (
        buf[q + 1] === SPACE &&
        isDigit(buf[q + 2]) &&
        isDigit(buf[q + 3]) &&
        isDigit(buf[q + 4]) &&
        (q + 5 === end || buf[q + 5] === SPACE) &&
        !isEscaped(buf, q, t)
      ) {
        break;
      }
      q++;
    }
    out.minute = minute;
    out.status = (buf[q + 2]! - 48) * 100 + (buf[q + 3]! - 48) * 10 + (buf[q + 4]! - 48);
    // Combined when the bytes field is followed by a quoted referer.
    let b = q + 6;
    while (b < end && buf[b] !== SPACE) b++;
    out.format = b + 1 < end && buf[b + 1] === QUOTE ? "combined" : "common";
    return true;
  };
}

/** Zone offset in minutes east of UTC from the `±hhmm` of a CLF time at `t`, or NaN. */
function zoneMinutes(buf: Uint8Array, t: number): number {
  const sign = buf[t + 21];
  const a = buf[t + 22]! - 48;
  const b = buf[t + 23]! - 48;
  const c = buf[t + 24]! - 48;
  const d = buf[t + 25]! - 48;
  if (!(a >= 0 && a <= 1 && b >= 0 && b <= 9 && c >= 0 && c <= 5 && d >= 0 && d <= 9)) return NaN;
  const minutes = (a * 10 + b) * 60 + c * 10 + d;
  if (sign === 0x2b) return minutes;
  if (sign === 0x2d) return -minutes;
  return NaN;
}

/** A quote preceded by an odd number of backslashes is part of the request (Apache escapes `"` as `\"`). */
function isEscaped(buf: Uint8Array, q: number, floor: number): boolean {
  let n = 0;
  for (let k = q - 1; k > floor && buf[k] === BACKSLASH; k--) n++;
  return n % 2 === 1;
}
