import { DURATION_HINT, parseDuration } from "../lib/duration.js";
import { StrataError } from "../lib/errors.js";

/** A whole number flag (`--count 3`); anything else is a usage error (exit 2). */
export function wholeNumber(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 0)
    throw new StrataError("bad_request", `[cli] ${flag}: expected a whole number, got "${text}"`);
  return n;
}

/** A duration flag in the one grammar (`--since 10m`), in milliseconds. */
export function durationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0)
    throw new StrataError("bad_request", `[cli] ${flag}: expected ${DURATION_HINT}, got "${text}"`);
  return ms;
}
