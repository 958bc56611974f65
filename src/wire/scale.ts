import { z } from "zod";

/** Body of `PUT /v1/scale/:group/mode`. */
export const setModeRequestSchema = z.strictObject({
  mode: z.enum(["off", "forecast-only", "on"]),
});
export type SetModeRequest = z.infer<typeof setModeRequestSchema>;

export const leadTimeViewSchema = z.object({
  seconds: z.number(),
  /** `measured` (p95 of recent launches), `fallback` (too few yet) or `configured`. */
  source: z.enum(["configured", "measured", "fallback"]),
  samples: z.number().int(),
});
export type LeadTimeView = z.infer<typeof leadTimeViewSchema>;

/** One hour (or step) of `GET /v1/scale/:group/plan`. Times ISO 8601 UTC; rates requests/s. */
export const planStepViewSchema = z.object({
  time: z.string(),
  launch_by: z.string(),
  mean_rate: z.number(),
  p90_rate: z.number(),
  peak_ratio: z.number(),
  servers: z.number().int(),
  reason: z.string(),
});
export type PlanStepView = z.infer<typeof planStepViewSchema>;

export const planViewSchema = z.object({
  group: z.string(),
  mode: z.enum(["off", "forecast-only", "on"]),
  generated_at: z.string(),
  lead_time: leadTimeViewSchema,
  /** False when the group's app has no forecast yet: the plan is then the minimum. */
  forecast: z.boolean(),
  min: z.number().int(),
  max: z.number().int(),
  steps: z.array(planStepViewSchema),
});
export type PlanView = z.infer<typeof planViewSchema>;

export const decisionViewSchema = z.object({
  at: z.string(),
  mode: z.enum(["off", "forecast-only", "on"]),
  action: z.enum(["launch", "retire", "hold"]),
  count: z.number().int(),
  in_service: z.number().int(),
  launching: z.number().int(),
  planned: z.number().int(),
  observed: z.number().int().nullable(),
  target: z.number().int(),
  acted: z.boolean(),
  reason: z.string(),
  error: z.string().optional(),
});
export type DecisionView = z.infer<typeof decisionViewSchema>;

/** Body of `GET /v1/scale/:group/status` and `PUT /v1/scale/:group/mode`. */
export const scaleStatusViewSchema = z.object({
  group: z.string(),
  mode: z.enum(["off", "forecast-only", "on"]),
  in_service: z.number().int(),
  launching: z.number().int(),
  /** Out of the balancer for a while: held out by a deployment, or unhealthy but heartbeating. */
  away: z.number().int(),
  draining: z.number().int(),
  lead_time: leadTimeViewSchema.nullable(),
  last: decisionViewSchema.nullable(),
  recent: z.array(decisionViewSchema),
  last_error: z.string().nullable(),
  /** Day-ahead backtest of the app's forecaster on its own traffic; null without 8 days of it. */
  forecaster: z
    .object({
      model: z.string(),
      days: z.number().int(),
      wmape: z.number(),
      p90_coverage: z.number(),
    })
    .nullable(),
});
export type ScaleStatusView = z.infer<typeof scaleStatusViewSchema>;
