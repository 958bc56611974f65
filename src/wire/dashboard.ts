import { z } from "zod";
import type { DeploymentKind } from "./deployment.js";
import type { ForecastView } from "./forecast.js";

/**
 * The dashboard's wire: sign-in, the live event stream and the timeline. Series
 * arrays carry Unix milliseconds (a chart wants numbers, and 10,000 ISO strings
 * would triple the payload); everything else is ISO 8601 UTC as in the rest of the API.
 */

const GROUP_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const isoTime = z
  .string()
  .regex(ISO_TIME, "expected an ISO 8601 time with a zone, e.g. 2024-03-01T09:00:00Z")
  .transform((text) => Date.parse(text))
  .refine((ms) => Number.isFinite(ms), "not a real time");

/** Body of `POST /v1/session`: the admin token, once; the answer sets the session cookie. */
export const SignInRequest = z.strictObject({ token: z.string().min(1).max(512) });
export type SignInRequest = z.infer<typeof SignInRequest>;

/** `GET /v1/session`: readable without a session, so the sign-in page can say where the token is. */
export interface SessionView {
  signed_in: boolean;
  /** Absolute path of the admin token file on the control plane's machine. */
  token_file: string;
}

/** Query of `GET /v1/dashboard/timeline`. Defaults: the last 7 days and the next 48 hours. */
export const TimelineQuery = z
  .strictObject({
    group: z.string().regex(GROUP_NAME, "lowercase letters, digits and dashes"),
    from: isoTime.optional(),
    to: isoTime.optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, {
    message: "must be after from",
    path: ["to"],
  });
export type TimelineQuery = z.infer<typeof TimelineQuery>;

/** A step series: `count[i]` holds from `time[i]` until `time[i + 1]` (or the end of the range). */
export interface StepSeries {
  time: number[];
  count: number[];
}

export interface TimelineView {
  group: string;
  app: string | null;
  /** Unix ms. */
  from: number;
  to: number;
  now: number;
  /** Width of one observed point: 60,000 (per minute) or 3,600,000 (per hour, shown per minute). */
  step_ms: number;
  /** Requests per minute as observed (minutes without data are absent, not zero). */
  observed: { time: number[]; rpm: number[] };
  /** The newest stored forecast, per minute (hourly figures / 60); null before the first. */
  forecast: {
    id: number;
    model: string;
    origin: string;
    created_at: string;
    time: number[];
    mean: number[];
    p90: number[];
  } | null;
  /** Servers in the balancer over time, from the audit log. */
  in_service: StepSeries;
  /**
   * Servers the scaler plans over time: past decisions from the audit log's `scale.*`
   * entries (`detail.planned`), the schedule ahead from the planner; null while neither exists.
   */
  planned: StepSeries | null;
  /** Launches and terminations, with their reasons. */
  servers: { time: number; server: string; action: "launch" | "terminate"; reason: string }[];
  /** Deployments overlapping the range; `to` is null while one runs. */
  deployments: {
    id: string;
    version: string;
    kind: DeploymentKind;
    state: "running" | "succeeded" | "failed" | "rolled_back";
    from: number;
    to: number | null;
  }[];
  /** Known events of the group's app. */
  events: { id: number; from: number; to: number; factor: number; note: string }[];
}

/** What a planner gives the timeline: the servers it planned for a group over [from, to). */
export type PlannedServers = (group: string, from: number, to: number) => Promise<StepSeries>;

/** Query of `GET /v1/dashboard/forecasts`. */
export const ForecastsQuery = z.strictObject({
  app: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "lowercase letters, digits, . _ -")
    .optional(),
});

/** Query of `GET /v1/events` (the event stream); the browser sends Last-Event-ID as a header. */
export const EventsQuery = z.strictObject({
  /** Resume after this id when the client cannot send the header. */
  after: z
    .string()
    .regex(/^[0-9a-z]+-\d+$/, "an event id")
    .optional(),
});

/** Topic of a live event; the dashboard refetches the views a topic touches. */
export type DashboardTopic =
  | "deployment" // deploy/rollback started, progressed or ended
  | "server" // launch, join, in/out of service, offline, terminate, agent report
  | "heartbeats" // coalesced heartbeat times of servers that changed
  | "image" // bakes and images, channel moves
  | "release" // a release was uploaded
  | "forecast" // forecast runs and known events
  | "traffic" // the balancer counted another minute of a group's requests
  | "scale" // a scaling decision (launch, retire, hold, mode)
  | "audit" // an audit entry of no other topic (every event with `data.audit` is one entry)
  | "reset"; // the client missed events it cannot catch up on: reload everything

/**
 * One server-sent event. The SSE `id:` is `<boot>-<seq>`: `seq` grows by one per
 * event; `boot` changes when the control plane restarts, so a stale id is detected.
 */
export interface DashboardEvent {
  id: string;
  topic: DashboardTopic;
  /** Unix ms. */
  at: number;
  data: Record<string, unknown>;
}

/** One hour of an earlier forecast beside what happened. Requests per hour. */
export interface ForecastCheckHour {
  /** Start of the hour, Unix ms. */
  time: number;
  mean: number;
  p90: number;
  /** Requests counted in the hour; null when the hour has no data. */
  observed: number | null;
}

/** An app's forecasting at a glance: the latest forecast, and an earlier one held against the day. */
export interface ForecastOverview {
  app: string;
  latest: ForecastView | null;
  /**
   * The model's backtest score on the app's own history (wMAPE), when the forecaster
   * records one; null while forecasts are stored without it.
   */
  backtest: { wmape: number } | null;
  /** The forecast in force 24 hours ago (known events applied), over its hours that have passed. */
  yesterday: {
    id: number;
    model: string;
    origin: string;
    created_at: string;
    hours: ForecastCheckHour[];
    /** Σ|observed − mean| / Σ observed over hours with data; null without any. */
    wape: number | null;
    /** Share of hours with data whose count stayed at or under p90. */
    p90_coverage: number | null;
  } | null;
}

/** Body of `GET /v1/dashboard/forecasts`. */
export interface ForecastsOverview {
  apps: ForecastOverview[];
}
