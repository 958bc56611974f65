import { z } from "zod";
import { boolean, described, duration, kind, mapping } from "../../config/fields.js";
import { validate } from "../../config/parse.js";
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

const HOUR = 3_600_000;
const hoursOf = (ms: number) => ms / HOUR;

/** The section's schema, registered in src/config/schema.ts. */
export const forecastSection = mapping({
  daily: described(boolean().prefault(true), {
    description: "Run the daily forecast of every app.",
  }),
  at: described(
    z
      .string({ error: (i) => `must be a local time "HH:MM", got ${kind(i.input)}` })
      .regex(/^([01]\d|2[0-3]):([0-5]\d)$/, {
        error: (i) => `must be a local time "HH:MM", got ${kind(i.input)}`,
      })
      .prefault("00:10")
      .transform((at) => Number(at.slice(0, 2)) * 60 + Number(at.slice(3))),
    { type: '"HH:MM"', description: "Local time of the daily run." },
  ),
  zone: described(
    z
      .string({ error: "must be an IANA time zone name like Europe/Berlin" })
      .prefault("UTC")
      .transform((name, ctx) => {
        try {
          return createZone(name).name;
        } catch {
          ctx.addIssue({
            code: "custom",
            message: `unknown time zone ${JSON.stringify(name)} (expected an IANA name like Europe/Berlin)`,
          });
          return z.NEVER;
        }
      }),
    { type: "IANA zone", description: "Zone of `at` and of the forecast's days." },
  ),
  horizon: duration({
    default: "48h",
    min: HOUR,
    max: 168 * HOUR,
    wholeHours: true,
    bareUnit: "h",
    description: "Hours forecast ahead.",
  }),
  model: described(
    z
      .string({ error: (i) => `must be one of ${MODEL_NAMES.join(", ")}, got ${kind(i.input)}` })
      .prefault("auto")
      .refine((name) => MODEL_NAMES.includes(name), {
        error: (i) => `must be one of ${MODEL_NAMES.join(", ")}, got ${kind(i.input)}`,
      }),
    {
      type: "model name",
      description: `\`auto\` (the backtest winner) or one of the models of docs/forecast.md: ${MODEL_NAMES.filter((m) => m !== "auto").join(", ")}.`,
    },
  ),
  history: duration({
    default: "8w",
    min: 168 * HOUR,
    max: 52 * 168 * HOUR,
    wholeHours: true,
    bareUnit: "h",
    description: "Most recent history a forecast uses.",
  }),
  min_history: duration({
    default: "7d",
    min: 24 * HOUR,
    wholeHours: true,
    bareUnit: "h",
    description: "Hours with data an app needs before it is forecast; at most `history`.",
  }),
})
  .check((ctx) => {
    if (ctx.value.min_history > ctx.value.history) {
      ctx.issues.push({
        code: "custom",
        path: ["min_history"],
        message: `must be at most history (${hoursOf(ctx.value.history)}h), got ${hoursOf(ctx.value.min_history)}h`,
        input: ctx.value.min_history,
      });
    }
  })
  .transform((s): ForecastConfig => ({
    daily: s.daily,
    atMinute: s.at,
    zone: s.zone,
    horizonHours: hoursOf(s.horizon),
    model: s.model,
    historyHours: hoursOf(s.history),
    minHistoryHours: hoursOf(s.min_history),
  }));

export const DEFAULT_FORECAST_CONFIG: ForecastConfig = validate(forecastSection, undefined, "", []);

/**
 * The `forecast` section of `sections` (as `parseServerConfig` keeps it), read through the
 * section's schema; a missing section means all defaults. Throws ConfigError naming the key.
 */
export function parseForecastConfig(
  sections: Readonly<Record<string, unknown>>,
  source = "strata.yaml",
): ForecastConfig {
  return validate(forecastSection, sections.forecast, source, ["forecast"]);
}

/** `HH:MM` of minutes after midnight. */
export function formatAt(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}
