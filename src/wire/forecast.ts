import { z } from "zod";

/** A known one-off event on the wire. Times are ISO 8601 UTC. */
export interface EventView {
  id: number;
  app: string;
  /** First instant of the window (inclusive). */
  from: string;
  /** End of the window (exclusive). */
  to: string;
  /** Multiplies mean and p90 of every forecast hour that starts in [from, to). */
  factor: number;
  note: string;
  created_at: string;
}

/** Body of `POST /v1/apps/:app/events`. Times: ISO 8601 with a zone (`Z` or `+01:00`), checked by the route. */
export const AddEventRequestSchema = z.strictObject({
  from: z.string(),
  to: z.string(),
  factor: z.number(),
  note: z.string().max(1000).optional(),
});
export type AddEventRequest = z.infer<typeof AddEventRequestSchema>;

/** Body of `GET /v1/apps/:app/events`. */
export interface EventsView {
  app: string;
  events: EventView[];
}

/** One forecast hour. */
export interface ForecastHourView {
  /** Start of the hour, ISO 8601 UTC. */
  time: string;
  /** Expected requests in the hour, known events applied. */
  mean: number;
  /** Upper bound (90%) of the requests in the hour, known events applied. */
  p90: number;
  /** Product of the factors of the events covering the hour (1 without any). */
  factor: number;
}

/**
 * Body of `POST /v1/apps/:app/forecasts` and `GET /v1/apps/:app/forecasts/latest`. The stored
 * numbers are the model's; known events are applied when the forecast is read, so an event
 * added or removed after the run counts at once.
 */
export interface ForecastView {
  id: number;
  app: string;
  /** Start of the first hour = end of the history, ISO 8601 UTC. */
  origin: string;
  created_at: string;
  trigger: "manual" | "daily";
  /** The point model behind the mean (what `auto` picked). */
  model: string;
  /** The model asked for: `auto` or a model name. */
  requested_model: string;
  /** IANA zone whose days and hours of day the model saw. */
  zone: string;
  history: {
    /** First hour with data used, ISO 8601 UTC. */
    from: string | null;
    hours_with_data: number;
    missing_hours: number;
  };
  hours: ForecastHourView[];
  /** Events that touch the forecast's hours, applied above. */
  events: EventView[];
  /**
   * How the model did on this app's own recent traffic: its first-day forecasts replayed
   * from each of the last `days` days (for `auto`, its choice made again at each of them
   * from the days before). Absent on forecasts stored before the score was kept.
   */
  backtest?: {
    /** sum |forecast - actual| / sum actual over the replayed hours; null without any. */
    wmape: number | null;
    days: number;
    hours: number;
  };
}
