import { Hono } from "hono";
import type { ForecastService } from "../../forecast/service/forecast-service.js";
import { StrataError } from "../../lib/errors.js";
import { AddEventRequestSchema, type EventsView } from "../../wire/forecast.js";
import { readJson } from "../validate.js";
import { badRequest, errorResponse } from "../http-errors.js";
import { APP_NAME } from "../../wire/names.js";

// RFC 3339 with an explicit zone: a zone-less time would be read in the server's local zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Forecasts and known events of an app: `POST /apps/:app/forecasts` forecasts now and stores
 * it, `GET /apps/:app/forecasts/latest` reads the newest with events applied,
 * `POST|GET /apps/:app/events` and `DELETE /apps/:app/events/:id`. Mounted under `/v1`
 * behind admin auth.
 */
export function forecastRoutes(deps: { forecasts: ForecastService }): Hono {
  const { forecasts } = deps;
  const app = new Hono();
  app.onError(errorResponse);

  app.post("/apps/:app/forecasts", async (c) => {
    return c.json(await forecasts.run(appName(c.req.param("app"))), 201);
  });

  app.get("/apps/:app/forecasts/latest", async (c) => {
    const name = appName(c.req.param("app"));
    const found = await forecasts.latest(name);
    if (!found) {
      throw new StrataError(
        "not_found",
        `[forecast] ${name}: no forecast yet (the daily run makes one, or \`strata forecast run ${name}\`)`,
      );
    }
    return c.json(found);
  });

  app.post("/apps/:app/events", async (c) => {
    const name = appName(c.req.param("app"));
    const body = await readJson(c, AddEventRequestSchema, "[forecast] POST events");
    const event = await forecasts.addEvent(name, {
      from: time(body.from, "from"),
      to: time(body.to, "to"),
      factor: body.factor,
      ...(body.note !== undefined ? { note: body.note } : {}),
    });
    return c.json(event, 201);
  });

  app.get("/apps/:app/events", async (c) => {
    const name = appName(c.req.param("app"));
    const view: EventsView = { app: name, events: await forecasts.events(name) };
    return c.json(view);
  });

  app.delete("/apps/:app/events/:id", async (c) => {
    const name = appName(c.req.param("app"));
    const text = c.req.param("id");
    const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(id))
      throw badRequest(`[forecast] event id: "${text}" is not a number`);
    const removed = await forecasts.removeEvent(name, id);
    if (!removed) throw new StrataError("not_found", `[forecast] ${name}: no event ${id}`);
    return c.json(removed);
  });

  return app;
}

function appName(value: string): string {
  if (!APP_NAME.test(value))
    throw badRequest(`[forecast] app: "${value}" must be lowercase letters, digits, . _ -`);
  return value;
}

function time(value: unknown, field: string): number {
  const ms = typeof value === "string" && ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || !realDate(value as string)) {
    throw badRequest(
      `[forecast] event ${field}: expected an ISO 8601 time with a zone, e.g. 2024-03-01T18:00:00Z or 2024-03-01T19:00+01:00 (got ${JSON.stringify(value)})`,
    );
  }
  return ms;
}

/** Date.parse takes 2024-02-30 for March 1; a typo should not move an event. */
function realDate(text: string): boolean {
  const [y, m, d] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d;
}
