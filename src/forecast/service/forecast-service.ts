import type { Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import type { HourCounts } from "../../store/traffic-repo.js";
import type { EventView, ForecastView } from "../../wire/forecast.js";
import { applyEvents } from "../events.js";
import type { ForecasterOptions } from "../forecaster.js";
import type {
  EventRecord,
  ForecastRecord,
  ForecastRepo,
  ForecastTrigger,
} from "../../store/forecast-repo.js";
import type { ForecastModel } from "../model.js";
import { createForecastModel } from "../registry.js";
import { HOUR_MS } from "../series.js";
import type { ForecastConfig } from "./forecast-config.js";
import { toUtcHours, wallHistory, wallHorizon } from "./history.js";
import { createZone } from "./zone.js";

export type AuditFn = (
  action: string,
  subject: string,
  detail?: Record<string, unknown>,
) => Promise<void>;

export interface ForecastServiceOptions {
  /** Hourly totals of each app over a UTC range (the TrafficRepo). */
  traffic: { hourly(app: string, from: number, to: number): Promise<HourCounts[]> };
  repo: ForecastRepo;
  config: ForecastConfig;
  clock: Clock;
  /** Records runs and event changes in the audit log. @default none */
  audit?: AuditFn;
  /** Builds the model named in the config. @default createForecastModel */
  createModel?: (name: string, options: ForecasterOptions) => ForecastModel;
}

/** Event fields as the caller gives them; validated by `addEvent`. Times are Unix ms. */
export interface EventInput {
  from: number;
  to: number;
  factor: number;
  note?: string;
}

/**
 * Forecasts of the apps the control plane serves, and their known events. Every method may
 * run concurrently with any other; `run` is CPU-bound for a fraction of a second (the model).
 */
export interface ForecastService {
  /**
   * Forecasts the configured horizon from the start of the current UTC hour, from the app's
   * last `history` of hourly totals, and stores it. Not idempotent: each call stores one.
   * @throws StrataError `conflict` when the app has fewer than `min_history` hours with data.
   */
  run(app: string, trigger?: ForecastTrigger): Promise<ForecastView>;
  /** The app's newest stored forecast with today's events applied; null when there is none. */
  latest(app: string): Promise<ForecastView | null>;
  /** Validates and stores an event. @throws StrataError `bad_request` naming the field. */
  addEvent(app: string, input: EventInput): Promise<EventView>;
  /** The app's events, ordered by start. */
  events(app: string): Promise<EventView[]>;
  /** Deletes an event; null when the app has no event with that id. */
  removeEvent(app: string, id: number): Promise<EventView | null>;
}

const MAX_NOTE = 200;

export function createForecastService(options: ForecastServiceOptions): ForecastService {
  const { traffic, repo, config, clock } = options;
  const audit = options.audit ?? (async () => {});
  const createModel = options.createModel ?? createForecastModel;
  const zone = createZone(config.zone);

  async function run(app: string, trigger: ForecastTrigger = "manual"): Promise<ForecastView> {
    const now = clock.now();
    const origin = Math.floor(now / HOUR_MS) * HOUR_MS;
    const from = origin - config.historyHours * HOUR_MS;
    const history = wallHistory(await traffic.hourly(app, from, origin), origin, zone);
    if (history.hoursWithData < config.minHistoryHours) {
      const since = history.from === null ? "" : ` since ${iso(history.from)}`;
      throw new StrataError(
        "conflict",
        `[forecast] ${app}: ${days(history.hoursWithData)} of traffic history ` +
          `(${history.hoursWithData} hours with data in the last ${days(config.historyHours)}${since}); ` +
          `a forecast needs at least ${days(config.minHistoryHours)} (forecast.min_history)`,
      );
    }
    const model = createModel(config.model, { window: config.historyHours });
    const forecast = model.forecast(history.series, wallHorizon(origin, config.horizonHours, zone));
    const utc = toUtcHours(forecast, origin, config.horizonHours, zone);
    const bad = [...utc.mean, ...utc.p90].findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new StrataError(
        "internal",
        `[forecast] ${app}: model ${forecast.model} gave no finite value for hour ${bad % config.horizonHours}`,
      );
    }
    const record = await repo.insert({
      app,
      origin,
      createdAt: now,
      trigger,
      requestedModel: config.model,
      model: forecast.model,
      zone: zone.name,
      historyFrom: history.from,
      historyHours: history.hoursWithData,
      missingHours: history.missingHours,
      mean: utc.mean.map((v) => Math.max(0, v)),
      p90: utc.p90.map((v) => Math.max(0, v)),
      ...(forecast.backtest
        ? {
            backtest: {
              wmape: Number.isFinite(forecast.backtest.wmape) ? forecast.backtest.wmape : null,
              days: forecast.backtest.days,
              hours: forecast.backtest.hours,
            },
          }
        : {}),
    });
    await audit("forecast.run", app, {
      id: record.id,
      trigger,
      origin: iso(origin),
      model: record.model,
      history_hours: record.historyHours,
      backtest_wmape: record.backtest?.wmape ?? null,
    });
    return view(record, await repo.events(app, span(record)));
  }

  return {
    run,
    async latest(app) {
      const record = await repo.latest(app);
      return record && view(record, await repo.events(app, span(record)));
    },
    async addEvent(app, input) {
      const from = input.from;
      const to = input.to;
      if (!Number.isSafeInteger(from)) throw badEvent("from: expected a time");
      if (!Number.isSafeInteger(to)) throw badEvent("to: expected a time");
      if (to <= from) throw badEvent(`to: must be after from (from ${iso(from)}, to ${iso(to)})`);
      if (typeof input.factor !== "number" || !Number.isFinite(input.factor) || input.factor <= 0)
        throw badEvent(`factor: expected a number > 0, got ${JSON.stringify(input.factor)}`);
      const note = input.note ?? "";
      if (typeof note !== "string" || note.length > MAX_NOTE)
        throw badEvent(`note: expected text of at most ${MAX_NOTE} characters`);
      const event = await repo.addEvent({
        app,
        from,
        to,
        factor: input.factor,
        note,
        createdAt: clock.now(),
      });
      await audit("forecast.event.add", app, {
        id: event.id,
        from: iso(from),
        to: iso(to),
        factor: event.factor,
        note,
      });
      return eventView(event);
    },
    async events(app) {
      return (await repo.events(app)).map(eventView);
    },
    async removeEvent(app, id) {
      const removed = await repo.removeEvent(app, id);
      if (removed) await audit("forecast.event.remove", app, { id, note: removed.note });
      return removed && eventView(removed);
    },
  };
}

function span(record: ForecastRecord): { from: number; to: number } {
  return { from: record.origin, to: record.origin + record.mean.length * HOUR_MS };
}

/** The stored forecast with `events` applied (hours starting in [from, to), factors multiply). */
function view(record: ForecastRecord, events: EventRecord[]): ForecastView {
  const windows = events.map((e) => ({ from: e.from, to: e.to, factor: e.factor }));
  const ones = record.mean.map(() => 1);
  const factors = applyEvents(
    { start: record.origin, mean: ones, p90: ones, model: "" },
    windows,
  ).mean;
  return {
    id: record.id,
    app: record.app,
    origin: iso(record.origin),
    created_at: iso(record.createdAt),
    trigger: record.trigger,
    model: record.model,
    requested_model: record.requestedModel,
    zone: record.zone,
    history: {
      from: record.historyFrom === null ? null : iso(record.historyFrom),
      hours_with_data: record.historyHours,
      missing_hours: record.missingHours,
    },
    hours: record.mean.map((m, i) => {
      const factor = factors[i] ?? 1;
      return {
        time: iso(record.origin + i * HOUR_MS),
        mean: round(m * factor),
        p90: round((record.p90[i] ?? m) * factor),
        factor: Number(factor.toPrecision(12)),
      };
    }),
    events: events.map(eventView),
    ...(record.backtest
      ? {
          backtest: {
            wmape: record.backtest.wmape === null ? null : Number(record.backtest.wmape.toFixed(4)),
            days: record.backtest.days,
            hours: record.backtest.hours,
          },
        }
      : {}),
  };
}

export function eventView(e: EventRecord): EventView {
  return {
    id: e.id,
    app: e.app,
    from: iso(e.from),
    to: iso(e.to),
    factor: e.factor,
    note: e.note,
    created_at: iso(e.createdAt),
  };
}

function badEvent(problem: string): StrataError {
  return new StrataError("bad_request", `[forecast] event ${problem}`);
}

const iso = (ms: number) => new Date(ms).toISOString();
const round = (x: number) => Math.round(x * 10) / 10;

/** `3 days 4 hours`, `7 days`, `5 hours`. */
function days(hours: number): string {
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (d === 0) return part(h, "hour");
  return h === 0 ? part(d, "day") : `${part(d, "day")} ${part(h, "hour")}`;
}
