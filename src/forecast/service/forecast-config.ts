import { parseDuration } from "../../lib/duration.js";
import { ConfigError } from "../../lib/errors.js";
import { MODEL_NAMES } from "../registry.js";
import { createZone } from "./zone.js";

/**
 * The `forecast` section of the control plane's strata.yaml:
 *
 * ```yaml
 * forecast:
 *   daily: true            # run the daily forecast of every app @default true
 *   at: "00:10"            # local time of the daily run, HH:MM @default "00:10"
 *   zone: Europe/Berlin    # IANA zone of `at` and of the forecast's days @default UTC
 *   horizon: 48h           # hours forecast, 1h to 168h (also 2d, 1w) @default 48h
 *   model: auto            # auto or a model name of docs/forecast.md @default auto
 *   history: 8w            # most recent history a forecast uses @default 8w
 *   min_history: 7d        # hours with data an app needs before it is forecast @default 7d
 * ```
 */
export interface ForecastConfig {
  /** @default true */
  readonly daily: boolean;
  /** Minutes after local midnight of the daily run. @default 10 (00:10) */
  readonly atMinute: number;
  /** IANA zone name. @default "UTC" */
  readonly zone: string;
  /** @default 48 */
  readonly horizonHours: number;
  /** @default "auto" */
  readonly model: string;
  /** @default 1344 (8 weeks) */
  readonly historyHours: number;
  /** @default 168 (7 days) */
  readonly minHistoryHours: number;
}

export const DEFAULT_FORECAST_CONFIG: ForecastConfig = Object.freeze({
  daily: true,
  atMinute: 10,
  zone: "UTC",
  horizonHours: 48,
  model: "auto",
  historyHours: 8 * 168,
  minHistoryHours: 168,
});

const HOUR_MS = 3_600_000;

const KEYS = ["daily", "at", "zone", "horizon", "model", "history", "min_history"];

/**
 * Validates `sections.forecast` as `parseServerConfig` passes it (the raw YAML value).
 * Throws ConfigError naming the key; a missing section means all defaults.
 */
export function parseForecastConfig(
  sections: Readonly<Record<string, unknown>>,
  source = "strata.yaml",
): ForecastConfig {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(key, `[config] ${source}: ${key}: ${problem}`);
  };
  const raw = sections.forecast ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    fail("forecast", "expected a mapping");
  const section = raw as Record<string, unknown>;
  for (const k of Object.keys(section)) {
    if (!KEYS.includes(k))
      fail(`forecast.${k}`, `unknown key (expected one of ${KEYS.join(", ")})`);
  }
  const d = DEFAULT_FORECAST_CONFIG;

  const daily = section.daily ?? d.daily;
  if (typeof daily !== "boolean") fail("forecast.daily", "expected true or false");

  let atMinute = d.atMinute;
  if (section.at !== undefined) {
    const m =
      typeof section.at === "string" ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(section.at) : null;
    if (!m) fail("forecast.at", `expected a local time "HH:MM", got ${JSON.stringify(section.at)}`);
    atMinute = Number(m![1]) * 60 + Number(m![2]);
  }

  let zone = d.zone;
  if (section.zone !== undefined) {
    if (typeof section.zone !== "string" || !section.zone)
      fail("forecast.zone", "expected an IANA time zone name like Europe/Berlin");
    try {
      zone = createZone(section.zone as string).name;
    } catch {
      fail(
        "forecast.zone",
        `unknown time zone ${JSON.stringify(section.zone)} (expected an IANA name like Europe/Berlin)`,
      );
    }
  }

  const hours = (key: string, fallback: number, min: number, max: number): number => {
    const value = section[key];
    if (value === undefined) return fallback;
    const n = parseHours(value);
    if (n === null)
      fail(
        `forecast.${key}`,
        `expected whole hours as a duration like 48h, 7d or 8w (a bare number is refused), got ${JSON.stringify(value)}`,
      );
    if (n! < min || n! > max) fail(`forecast.${key}`, `must be from ${min}h to ${max}h, got ${n}h`);
    return n!;
  };
  const horizonHours = hours("horizon", d.horizonHours, 1, 168);
  const historyHours = hours("history", d.historyHours, 168, 52 * 168);
  const minHistoryHours = hours("min_history", d.minHistoryHours, 24, historyHours);

  const model = section.model ?? d.model;
  if (typeof model !== "string" || !MODEL_NAMES.includes(model))
    fail(
      "forecast.model",
      `expected one of ${MODEL_NAMES.join(", ")}, got ${JSON.stringify(model)}`,
    );

  return Object.freeze({
    daily: daily as boolean,
    atMinute,
    zone,
    horizonHours,
    model: model as string,
    historyHours,
    minHistoryHours,
  });
}

/** `48h`, `7d`, `8w` or a bare number of hours; null unless whole hours. */
/** Whole hours of a duration in the one grammar (`48h`, `7d`, `8w`); null for a bare number or a part hour. */
function parseHours(value: unknown): number | null {
  const ms = parseDuration(value);
  return ms !== null && ms % HOUR_MS === 0 ? ms / HOUR_MS : null;
}

/** `HH:MM` of minutes after midnight. */
export function formatAt(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}
