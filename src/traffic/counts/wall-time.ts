import {
  inUtcRange,
  msOfEpoch,
  newIsoTimeFields,
  scanIsoTime,
  wallMinute,
} from "../parsers/timestamp.js";

/** A parsed timestamp: wall-clock reading (as if UTC) and the instant, when the zone is known. */
export interface ParsedTime {
  wall: number;
  /** The instant in ms; equal to `wall` for naive timestamps. */
  instant: number;
  /** `""` for naive, `"Z"`, or `"+HH:MM"`. */
  zone: string;
}

const EPOCH_RE = /^\d+(?:\.\d+)?$/;
const DATE_ONLY_RE = /^\d{4}-\d{2}-\d{2}$/;
const MINUTE_MS = 60_000;

/**
 * Parses a counts CSV timestamp with the log parsers' ISO 8601 scanner: `1995-07-01
 * 00:00:00-04:00`, `1998-04-30 21:30:00` (naive: kept as a wall clock), `...T...Z`, a
 * date alone (its midnight), or a Unix epoch number (unit guessed by size, as in logs).
 * Returns undefined when the text is none of these or its instant is outside the UTC
 * years 1970..9999.
 */
export function parseTimestamp(text: string): ParsedTime | undefined {
  const s = text.trim();
  if (EPOCH_RE.test(s)) {
    const ms = msOfEpoch(Number(s));
    return Number.isNaN(ms) ? undefined : { wall: ms, instant: ms, zone: "Z" };
  }
  const bytes = Buffer.from(DATE_ONLY_RE.test(s) ? `${s}T00:00` : s, "latin1");
  const t = newIsoTimeFields();
  if (!scanIsoTime(bytes, 0, bytes.length, t)) return undefined;
  const minute = wallMinute(t.year, t.month, t.day, t.hour, t.minute);
  const wall = minute + t.second * 1000 + t.millisecond;
  const instant = inUtcRange(wall - t.offsetMinutes * MINUTE_MS);
  if (Number.isNaN(instant)) return undefined;
  return { wall, instant, zone: zoneText(t.zone, t.offsetMinutes) };
}

function zoneText(zone: "none" | "z" | "offset", offsetMinutes: number): string {
  if (zone === "none") return "";
  if (zone === "z") return "Z";
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${offsetMinutes < 0 ? "-" : "+"}${hh}:${mm}`;
}

/** Formats a wall-clock time with its zone as written: `1995-07-29T14:00:00-04:00`. */
export function formatWallTime(wall: number, zone: string): string {
  return new Date(wall).toISOString().slice(0, 19) + zone;
}
