import { checkDuration, type DurationLimits } from "../lib/duration.js";
import { StrataError } from "../lib/errors.js";

/**
 * The milliseconds of a duration flag, in the one grammar of strata.yaml
 * (`500ms`, `90s`, `10m`, `28d`); a bare number is refused, with what to
 * write instead when `limits.bareUnit` says what it used to mean.
 */
export function durationFlag(text: string, flag: string, limits: DurationLimits = {}): number {
  const checked = checkDuration(text, limits);
  if ("ms" in checked) return checked.ms;
  throw new StrataError("bad_request", `[cli] ${flag}: ${checked.problem}`);
}
