import { z } from "zod";
import { strictMapping } from "../config/fields.js";
import { ConfigError } from "../lib/errors.js";
import { DURATION_HINT, parseDuration } from "../lib/duration.js";
import { SCALE_MODES, type ScaleMode, type ScaleSettings } from "./executor.js";

/**
 * Defaults of a group's scaling, the `strata` policy of `strata simulate` (docs/scaling.md
 * has the figures they were chosen on). Capacity has no default: it is the app's own.
 */
export const DEFAULT_SCALING: Omit<ScaleSettings, "capacityPerServer"> = Object.freeze({
  mode: "off",
  targetUtilisation: 0.7,
  meanUtilisation: 0.7,
  p90Utilisation: null,
  min: 1,
  max: 20,
  leadTime: "auto",
  leadTimeFallbackMs: 5 * 60_000,
  stabilisationMs: 10 * 60_000,
  guard: Object.freeze({ enabled: true, tolerance: 0.1, windowMs: 2 * 60_000 }),
  intervalMs: 60_000,
}) as Omit<ScaleSettings, "capacityPerServer">;

const duration = (allowZero = false) =>
  z.string().refine((v) => {
    const ms = parseDuration(v);
    return ms !== null && (allowZero ? ms >= 0 : ms > 0);
  }, `expected ${DURATION_HINT}`);

const utilisation = z.number().gt(0).max(1);

/** One group under `scaling:`. Every key but `capacity_per_server` has a default. */
export const groupScalingSchema = strictMapping({
  /** off | forecast-only | on. @default off */
  mode: z
    .enum(SCALE_MODES as [ScaleMode, ...ScaleMode[]])
    .optional()
    .meta({
      description: "off: nothing; forecast-only: decide and record, do not act; on: act",
      default: "`off`",
    }),
  /** Requests per second one server carries at 100% utilisation. */
  capacity_per_server: z.number().positive().meta({
    description: "requests per second one server carries at 100% utilisation (required)",
  }),
  /** Utilisation the servers should run at (the guard's target, the mean forecast's). @default 0.7 */
  target_utilisation: utilisation.optional().meta({
    description: "utilisation the servers should run at: the plan's and the guard's target",
    default: "`0.7`",
  }),
  /**
   * Utilisation the p90 forecast may reach; unset, the plan is the mean at the target and the
   * guard covers the upper tail. Equal to target_utilisation: ceil(p90 / (capacity x target)).
   * @default unset
   */
  p90_utilisation: utilisation.optional().meta({
    description:
      "utilisation the p90 forecast may reach; unset: plan on the mean at the target, the guard covers the tail",
    default: "unset",
  }),
  /** @default 1 */
  min: z.number().int().min(0).optional().meta({ description: "fewest servers", default: "`1`" }),
  /** @default 20 */
  max: z.number().int().min(1).optional().meta({ description: "most servers", default: "`20`" }),
  /** `auto` (p95 of the last 20 launches' service-in lag) or a duration. @default auto */
  lead_time: z
    .union([z.literal("auto"), duration()])
    .optional()
    .meta({
      description:
        "how far ahead launches start: `auto` (p95 of the last 20 launches' service-in lag) or a duration",
      default: "`auto`",
    }),
  /** Lead time `auto` uses until 5 launches are measured. @default 5m */
  lead_time_fallback: duration().optional().meta({
    description: "the lead time `auto` uses until 5 launches are measured",
    default: "`5m`",
  }),
  /** Scale-in keeps the highest recommendation of this window. @default 10m */
  scale_in_stabilisation: duration(true).optional().meta({
    description: "scale-in keeps the highest recommendation of this window",
    default: "`10m`",
  }),
  guard: strictMapping({
    /** @default true */
    enabled: z.boolean().optional().meta({
      description: "the reactive guard scales out at once on observed traffic",
      default: "`true`",
    }),
    /** HPA tolerance: ratios within 1 +- tolerance change nothing. @default 0.1 */
    tolerance: z.number().min(0).max(1).optional().meta({
      description: "HPA tolerance: ratios within 1 +- tolerance change nothing",
      default: "`0.1`",
    }),
    /** The busiest minute of this window is what the guard reads. @default 2m */
    window: duration().optional().meta({
      description: "the busiest minute of this window is what the guard reads",
      default: "`2m`",
    }),
  }).optional(),
  /** Time between decisions. @default 1m */
  interval: duration().optional().meta({ description: "time between decisions", default: "`1m`" }),
}).refine((g) => (g.min ?? DEFAULT_SCALING.min) <= (g.max ?? DEFAULT_SCALING.max), {
  message: "min must not exceed max",
  path: ["min"],
});

/** `scaling:` of strata.yaml: group name -> its scaling. */
export const scalingSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  groupScalingSchema,
);

export type GroupScalingInput = z.infer<typeof groupScalingSchema>;
export type ScalingInput = z.infer<typeof scalingSchema>;

/**
 * Validates `sections.scaling` into settings per group. Throws ConfigError naming the key
 * (`scaling.web.capacity_per_server`); an absent section scales nothing.
 */
export function parseScalingConfig(
  sections: Readonly<Record<string, unknown>>,
  source = "strata.yaml",
): ReadonlyMap<string, ScaleSettings> {
  const parsed = scalingSchema.safeParse(sections.scaling ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const path = ["scaling", ...issue.path.map(String)];
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      path.push(issue.keys[0] as string);
      message = "unknown key";
    }
    if (issue.code === "invalid_key")
      message = "group names are lowercase letters, digits and dashes";
    const key = path.join(".");
    throw new ConfigError(key, `[config] ${source}: ${key}: ${message}`);
  }
  const out = new Map<string, ScaleSettings>();
  for (const [group, g] of Object.entries(parsed.data)) out.set(group, toSettings(g));
  return out;
}

function toSettings(g: GroupScalingInput): ScaleSettings {
  const d = DEFAULT_SCALING;
  const ms = (v: string | undefined, fallback: number) =>
    v === undefined ? fallback : (parseDuration(v) as number);
  const target = g.target_utilisation ?? d.targetUtilisation;
  return Object.freeze({
    mode: g.mode ?? d.mode,
    capacityPerServer: g.capacity_per_server,
    targetUtilisation: target,
    meanUtilisation: target,
    p90Utilisation: g.p90_utilisation ?? d.p90Utilisation,
    min: g.min ?? d.min,
    max: g.max ?? d.max,
    leadTime:
      g.lead_time === undefined || g.lead_time === "auto"
        ? "auto"
        : (parseDuration(g.lead_time) as number),
    leadTimeFallbackMs: ms(g.lead_time_fallback, d.leadTimeFallbackMs),
    stabilisationMs: ms(g.scale_in_stabilisation, d.stabilisationMs),
    guard: Object.freeze({
      enabled: g.guard?.enabled ?? d.guard.enabled,
      tolerance: g.guard?.tolerance ?? d.guard.tolerance,
      windowMs: ms(g.guard?.window, d.guard.windowMs),
    }),
    intervalMs: ms(g.interval, d.intervalMs),
  });
}
