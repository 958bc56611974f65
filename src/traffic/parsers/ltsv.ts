import type { LineParser } from "./line-parser.js";
import { CLF_TIME_LENGTH, parseClfTime, parseIsoTime } from "./timestamp.js";

const TAB = 0x09;
const COLON = 0x3a;

// Labels tried for the request time, best first (ltsv.org's `time`, then common variants).
const TIME_LABELS = ["time", "time_local", "time_iso8601", "timestamp"].map((l) => Buffer.from(l));
const STATUS_LABEL = Buffer.from("status");

/**
 * LTSV (ltsv.org): tab-separated `label:value` fields. Needs a time field
 * (`time`, `time_local`, `time_iso8601` or `timestamp`) holding a CLF time,
 * bracketed or not, or ISO 8601; and `status`.
 */
export function createLtsvParser(): LineParser {
  return (buf, start, end, out) => {
    let timeRank = TIME_LABELS.length;
    let timeStart = -1;
    let timeEnd = -1;
    let status = -1;
    let field = start;
    while (field < end) {
      let tab = field;
      while (tab < end && buf[tab] !== TAB) tab++;
      let colon = field;
      while (colon < tab && buf[colon] !== COLON) colon++;
      if (colon === tab) return false; // every LTSV field has a label
      if (labelIs(buf, field, colon, STATUS_LABEL)) status = parseStatus(buf, colon + 1, tab);
      else if (colon - field <= 12) {
        for (let r = 0; r < timeRank; r++) {
          if (labelIs(buf, field, colon, TIME_LABELS[r]!)) {
            timeRank = r;
            timeStart = colon + 1;
            timeEnd = tab;
            break;
          }
        }
      }
      field = tab + 1;
    }
    if (status < 0 || timeStart < 0) return false;
    const minute = parseTimeValue(buf, timeStart, timeEnd);
    if (minute !== minute) return false;
    out.minute = minute;
    out.status = status;
    out.format = "ltsv";
    return true;
  };
}

function labelIs(buf: Uint8Array, start: number, end: number, label: Uint8Array): boolean {
  if (end - start !== label.length) return false;
  for (let k = 0; k < label.length; k++) if (buf[start + k] !== label[k]) return false;
  return true;
}

function parseStatus(buf: Uint8Array, start: number, end: number): number {
  if (end - start !== 3) return -1;
  let n = 0;
  for (let k = start; k < end; k++) {
    const d = buf[k]! - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** A CLF time (`[10/Oct/2000:13:55:36 -0700]`, brackets optional) or ISO 8601. */
export function parseTimeValue(buf: Uint8Array, start: number, end: number): number {
  if (buf[start] === 0x5b && buf[end - 1] === 0x5d) {
    start++;
    end--;
  }
  if (end - start === CLF_TIME_LENGTH && buf[start + 2] === 0x2f) return parseClfTime(buf, start);
  return parseIsoTime(buf, start, end);
}
