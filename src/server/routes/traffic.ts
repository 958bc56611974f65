import { Hono } from "hono";
import { StrataError } from "../../lib/errors.js";
import type { MinuteCounts } from "../../traffic/minute-counter.js";
import type { TrafficRepo } from "../../store/traffic-repo.js";
import { BODY_LIMIT, readJson } from "../validate.js";
import {
  MAX_TRAFFIC_MINUTES_PER_POST,
  PostTrafficRequestSchema,
  type PostTrafficRequest,
  type PostTrafficResponse,
  type TrafficCheckpointResponse,
  type TrafficPoint,
  type TrafficSeries,
  type TrafficStep,
} from "../../wire/traffic.js";
import { badRequest, errorResponse } from "../http-errors.js";
import { APP_NAME } from "../../wire/names.js";

// RFC 3339 with an explicit zone: a zone-less time would be read in the server's local zone.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;
/** Longest range one GET may ask for, per step, so a response stays a few MB at most. */
const MAX_SPAN_MS: Record<TrafficStep, number> = { minute: 31 * DAY_MS, hour: 3 * 366 * DAY_MS };

/**
 * Traffic counts of an app: `POST /apps/:app/traffic` adds minute counts
 * (deduplicated by `source`), `GET /apps/:app/traffic?from=&to=&step=` reads
 * them per minute or hour, `GET /apps/:app/traffic/checkpoint?key=` tells a
 * follower where to resume. Mounted under `/v1` behind bearer auth.
 */
export function trafficRoutes(deps: { traffic: TrafficRepo }): Hono {
  const { traffic } = deps;
  const app = new Hono();
  app.onError(errorResponse);

  app.post("/apps/:app/traffic", async (c) => {
    const name = appName(c.req.param("app"));
    const body: PostTrafficRequest = await readJson(
      c,
      PostTrafficRequestSchema,
      "[traffic] POST traffic",
      BODY_LIMIT.traffic,
    );
    if (body.minutes.length > MAX_TRAFFIC_MINUTES_PER_POST) {
      throw new StrataError(
        "too_large",
        `[traffic] POST traffic: ${body.minutes.length} minutes; send at most ${MAX_TRAFFIC_MINUTES_PER_POST} per request`,
      );
    }
    const minutes: MinuteCounts[] = body.minutes.map((m, i) => {
      return {
        minute: time(m.minute, `minutes[${i}].minute`),
        total: m.total,
        s2xx: m.s2xx,
        s3xx: m.s3xx,
        s4xx: m.s4xx,
        s5xx: m.s5xx,
      };
    });
    const result: PostTrafficResponse = await traffic.add(name, minutes, body.source);
    return c.json(result);
  });

  app.get("/apps/:app/traffic", async (c) => {
    const name = appName(c.req.param("app"));
    const step = (c.req.query("step") ?? "minute") as TrafficStep;
    if (step !== "minute" && step !== "hour")
      throw badRequest(`[traffic] step: "${step}" is not minute or hour`);
    const from = time(c.req.query("from"), "from");
    const to = time(c.req.query("to"), "to");
    if (to <= from) throw badRequest("[traffic] to: must be after from");
    if (to - from > MAX_SPAN_MS[step]) {
      throw badRequest(
        `[traffic] from/to: at most ${MAX_SPAN_MS[step] / DAY_MS} days per request at step=${step}`,
      );
    }
    let points: TrafficPoint[];
    if (step === "minute") {
      points = (await traffic.minutes(name, from, to)).map(({ minute, ...counts }) => ({
        time: new Date(minute).toISOString(),
        ...counts,
      }));
    } else {
      points = (await traffic.hourly(name, from, to)).map(({ hour, ...counts }) => ({
        time: new Date(hour).toISOString(),
        ...counts,
      }));
    }
    const series: TrafficSeries = {
      app: name,
      step,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      points,
    };
    return c.json(series);
  });

  app.get("/apps/:app/traffic/checkpoint", async (c) => {
    const name = appName(c.req.param("app"));
    const key = c.req.query("key");
    if (!key) throw badRequest("[traffic] checkpoint: key is required");
    const found = await traffic.checkpoint(name, key);
    const body: TrafficCheckpointResponse = {
      checkpoint: found && {
        key: found.key,
        inode: found.inode,
        offset: found.offset,
        path: found.path,
        updated_at: new Date(found.updatedAt).toISOString(),
      },
    };
    return c.json(body);
  });

  return app;
}

function appName(value: string): string {
  if (!APP_NAME.test(value))
    throw badRequest(`[traffic] app: "${value}" must be lowercase letters, digits, . _ -`);
  return value;
}

function time(value: unknown, field: string): number {
  const ms = typeof value === "string" && ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms)) {
    throw badRequest(
      `[traffic] ${field}: expected an ISO 8601 time with a zone, e.g. 2024-03-01T09:00:00Z`,
    );
  }
  return ms;
}
