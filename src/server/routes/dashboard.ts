import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { z } from "zod";
import type { ForecastService } from "../../forecast/service/forecast-service.js";
import type { Store } from "../../store/store.js";
import type { Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import {
  EventsQuery,
  ForecastsQuery,
  SignInRequest,
  TimelineQuery,
  type DashboardEvent,
  type PlannedServers,
  type SessionView,
} from "../../wire/dashboard.js";
import type { EventHub } from "../event-hub.js";
import { badRequest, errorResponse } from "../http-errors.js";
import type { Sessions } from "../sessions.js";
import { forecastOverview } from "../forecast-overview.js";
import { timeline } from "../timeline.js";
import type { WebFiles } from "../web-files.js";

export interface DashboardPublicDeps {
  sessions: Sessions;
  web: WebFiles;
  /** Shown on the sign-in page: where the admin token is. */
  tokenFile: string;
}

/**
 * What the dashboard serves before sign-in: its built files at `/`, and
 * `GET|POST|DELETE /v1/session`. Mounted ahead of admin auth; nothing here reads state.
 */
export function dashboardPublicRoutes(deps: DashboardPublicDeps): Hono {
  const { sessions, web, tokenFile } = deps;
  const app = new Hono();
  app.onError(errorResponse);

  app.get("/v1/session", (c) => {
    const view: SessionView = {
      signed_in: sessions.valid(c.req.header("cookie")),
      token_file: tokenFile,
    };
    return c.json(view);
  });

  app.post("/v1/session", async (c) => {
    const body = parse(SignInRequest, await c.req.json().catch(() => undefined), "sign-in");
    const id = sessions.signIn(body.token);
    if (!id) throw new StrataError("unauthorized", "[dashboard] sign-in: wrong admin token");
    c.header("set-cookie", sessions.cookie(id));
    const view: SessionView = { signed_in: true, token_file: tokenFile };
    return c.json(view);
  });

  app.delete("/v1/session", (c) => {
    sessions.signOut(c.req.header("cookie"));
    c.header("set-cookie", sessions.cookie(""));
    return c.body(null, 204);
  });

  app.get("/*", async (c, next) => {
    if (c.req.path.startsWith("/v1/")) return next();
    const file = await web.get(c.req.path);
    if (!file) {
      if (c.req.path === "/") return notBuilt(c.req.path);
      if (await web.built()) return next();
      // Regression: without a build this answered every path, /metrics among them.
      await next();
      if (c.res.status === 404) c.res = notBuilt(c.req.path);
      return;
    }
    const gzip = file.gzip && /\bgzip\b/.test(c.req.header("accept-encoding") ?? "");
    const headers: Record<string, string> = {
      "content-type": file.type,
      "cache-control": file.immutable ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
    };
    if (file.type.startsWith("text/html")) {
      headers["content-security-policy"] =
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
    }
    if (gzip) headers["content-encoding"] = "gzip";
    return new Response(new Uint8Array(gzip ? file.gzip! : file.body), { headers });
  });

  return app;
}

function notBuilt(path: string): Response {
  const text = [
    "strata: the dashboard is not built.",
    "",
    "Build it with `npm run build:web` (npm install runs it too), then reload.",
    `(asked for ${path})`,
  ].join("\n");
  return new Response(text, {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

export interface DashboardDeps {
  hub: EventHub;
  store: Store;
  forecasts: ForecastService;
  clock: Clock;
  /** The scaler's planned servers per group; absent until planned scaling is wired in. */
  plannedServers?: PlannedServers;
  /** Comment lines that keep idle streams open through proxies. @default 15000 */
  keepAliveMs?: number;
}

/** The live event stream and the timeline. Mounted under `/v1` behind admin auth. */
export function dashboardRoutes(deps: DashboardDeps): Hono {
  const { hub } = deps;
  const keepAliveMs = deps.keepAliveMs ?? 15_000;
  const app = new Hono();
  app.onError(errorResponse);

  app.get("/events", (c) => {
    const query = parse(EventsQuery, c.req.query(), "events");
    const lastId = c.req.header("last-event-id") ?? query.after ?? null;
    return streamSSE(c, async (out) => {
      const queue: DashboardEvent[] = [];
      let wake: (() => void) | null = null;
      // Subscribed before the backlog is read, so nothing falls between the two.
      const unsubscribe = hub.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      const keepAlive = setInterval(() => void out.write(": keep-alive\n\n"), keepAliveMs);
      out.onAbort(() => {
        clearInterval(keepAlive);
        unsubscribe();
        wake?.();
      });
      const backlog = lastId ? hub.since(lastId) : null;
      let sentSeq = 0;
      const send = async (event: DashboardEvent) => {
        const seq = Number(event.id.split("-")[1]);
        if (seq <= sentSeq) return;
        sentSeq = seq;
        await out.writeSSE({ id: event.id, event: event.topic, data: JSON.stringify(event) });
      };
      await out.write("retry: 1000\n\n");
      if (backlog === null) {
        // A new client, or one too far behind: it loads every view afresh from here.
        const id = hub.lastId();
        const reset: DashboardEvent = {
          id,
          topic: "reset",
          at: deps.clock.now(),
          data: { reason: lastId ? "missed events" : "connected" },
        };
        sentSeq = Number(id.split("-")[1]);
        await out.writeSSE({ id, event: "reset", data: JSON.stringify(reset) });
      } else {
        for (const event of backlog) await send(event);
      }
      while (!out.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        await send(event);
      }
      clearInterval(keepAlive);
      unsubscribe();
    });
  });

  app.get("/dashboard/timeline", async (c) => {
    const query = parse(TimelineQuery, c.req.query(), "timeline");
    return c.json(await timeline(deps, query));
  });

  app.get("/dashboard/forecasts", async (c) => {
    const query = parse(ForecastsQuery, c.req.query(), "forecasts");
    return c.json(await forecastOverview(deps, query.app));
  });

  return app;
}

/** Parses with a zod schema; a failure is a 400 naming the field. */
export function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === "unrecognized_keys")
    throw badRequest(`[dashboard] ${what}: ${issue.keys.join(", ")}: unknown key`);
  const field = issue.path.length > 0 ? issue.path.join(".") : "body";
  throw badRequest(`[dashboard] ${what}: ${field}: ${issue.message}`);
}
