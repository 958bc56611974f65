import type { LineParser } from "./line-parser.js";
import { minuteOfEpoch } from "./timestamp.js";
import { parseTimeValue } from "./ltsv.js";

const TIME_FIELDS = ["time", "timestamp", "@timestamp", "ts", "time_local", "time_iso8601", "date"];
const STATUS_FIELDS = ["status", "status_code", "statusCode", "http_status", "response_status"];

/**
 * JSON lines: one object per line. The time is the first of `time`,
 * `timestamp`, `@timestamp`, `ts`, `time_local`, `time_iso8601`, `date` that
 * is present: an ISO 8601 or CLF string, or a Unix epoch number (unit guessed
 * from its size). The status is `status`, `status_code`, `statusCode`,
 * `http_status`, `response_status` or ECS `http.response.status_code`;
 * a number or a numeric string.
 */
export function createJsonLinesParser(): LineParser {
  const scratch = Buffer.alloc(128);
  return (buf, start, end, out) => {
    let i = start;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    if (buf[i] !== 0x7b) return false; // not an object: skip JSON.parse and its exception
    let record: unknown;
    try {
      record = JSON.parse(buf.toString("utf8", i, end));
    } catch {
      return false;
    }
    if (typeof record !== "object" || record === null || Array.isArray(record)) return false;
    const fields = record as Record<string, unknown>;
    const status = statusOf(fields);
    if (status < 0) return false;
    let minute = NaN;
    for (const name of TIME_FIELDS) {
      const value = fields[name];
      if (value === undefined) continue;
      if (typeof value === "number") minute = minuteOfEpoch(value);
      else if (typeof value === "string" && value.length <= scratch.length) {
        const n = scratch.write(value, "latin1");
        minute = /^\d+(\.\d+)?$/.test(value)
          ? minuteOfEpoch(Number(value))
          : parseTimeValue(scratch, 0, n);
      }
      break;
    }
    if (minute !== minute) return false;
    out.minute = minute;
    out.status = status;
    out.format = "json";
    return true;
  };
}

function statusOf(fields: Record<string, unknown>): number {
  for (const name of STATUS_FIELDS) {
    if (fields[name] !== undefined) return statusValue(fields[name]);
  }
  const http = fields.http as { response?: { status_code?: unknown } } | undefined;
  if (typeof http === "object" && http !== null && typeof http.response === "object") {
    return statusValue(http.response?.status_code);
  }
  return -1;
}

function statusValue(value: unknown): number {
  const n = typeof value === "string" && /^\d{3}$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 999 ? n : -1;
}
