/**
 * The lead time of a scale-out: how long before its servers are needed a launch must start.
 * `auto` measures it as the 95th percentile of the service-in lag (launched_at ->
 * in_service_at) of the group's last launches, with a configured fallback until enough.
 */
export interface LeadTimeInput {
  /** `auto` or a fixed duration in ms. */
  setting: "auto" | number;
  /** Used while fewer than `minLaunches` lags are known. */
  fallbackMs: number;
  /** Service-in lags of past launches in ms, oldest first. */
  lagsMs: readonly number[];
  /** Launches read, newest last. @default 20 */
  window?: number;
  /** Launches needed before the measurement replaces the fallback. @default 5 */
  minLaunches?: number;
}

export interface LeadTime {
  ms: number;
  /** `configured`: a fixed setting; `measured`: p95 of `samples` lags; `fallback`: too few launches. */
  source: "configured" | "measured" | "fallback";
  samples: number;
}

export function leadTime(input: LeadTimeInput): LeadTime {
  if (input.setting !== "auto") return { ms: input.setting, source: "configured", samples: 0 };
  const recent = input.lagsMs
    .slice(-(input.window ?? 20))
    .filter((x) => Number.isFinite(x) && x >= 0);
  if (recent.length < (input.minLaunches ?? 5))
    return { ms: input.fallbackMs, source: "fallback", samples: recent.length };
  return { ms: Math.ceil(p95(recent)), source: "measured", samples: recent.length };
}

/** Type 7 (R's default) 95th percentile. */
function p95(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * 0.95;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo);
}

/** Service-in lags of server records that have both timestamps, oldest launch first. */
export function serviceInLags(
  servers: readonly { launched_at: number | null; in_service_at: number | null }[],
): number[] {
  return servers
    .filter((s) => s.launched_at !== null && s.in_service_at !== null)
    .sort((a, b) => (a.launched_at as number) - (b.launched_at as number))
    .map((s) => (s.in_service_at as number) - (s.launched_at as number));
}
