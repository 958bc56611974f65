import { Hono } from "hono";
import type { Coordinator } from "../../coord/coordinator.js";
import type { Fleet } from "../../fleet/fleet.js";
import type { ServerRecord } from "../../store/store.js";
import {
  AgentReportSchema,
  DesiredQuerySchema,
  HeartbeatSchema,
  JoinRequestSchema,
  TokenRotationRequestSchema,
  type HeartbeatResponse,
  type TokenRotation,
} from "../../wire/agent.js";
import { BODY_LIMIT, readJson, readQuery } from "../validate.js";

type Env = { Variables: { server: ServerRecord } };

/** Longest long poll an agent may ask for, in seconds. */
const MAX_WAIT_S = 60;

/**
 * Routes agents call: join with a join token, the rest with their own token.
 * The token is checked before a body is read, and every body is bounded and
 * validated: an agent token is no licence to send anything.
 */
export function agentRoutes(deps: { fleet: Fleet; coordinator: Coordinator }): Hono<Env> {
  const { fleet, coordinator } = deps;
  const app = new Hono<Env>();

  app.post("/join", async (c) => {
    const headerToken = bearer(c.req.header("authorization"));
    // A join token in the header is checked before the body is read; one in the body is bounded by the small limit.
    if (headerToken) await fleet.checkJoinToken(headerToken);
    const body = await readJson(c, JoinRequestSchema, "join");
    return c.json(await fleet.join({ ...body, join_token: headerToken || body.join_token || "" }));
  });

  app.use("/*", async (c, next) => {
    if (c.req.path.endsWith("/join")) return next();
    const token = bearer(c.req.header("authorization"));
    c.set("server", await fleet.authenticate(token));
    await next();
  });

  app.get("/desired", async (c) => {
    const { after, wait } = readQuery(c, DesiredQuerySchema, "desired");
    const abort = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
    const seconds = Math.min(wait, MAX_WAIT_S);
    return c.json(
      await coordinator.watch(c.get("server").name, after, seconds * 1000, abort.signal),
    );
  });

  app.post("/report", async (c) => {
    const report = await readJson(c, AgentReportSchema, "report", BODY_LIMIT.report);
    await fleet.report(c.get("server"), report);
    return c.body(null, 204);
  });

  app.post("/heartbeat", async (c) => {
    const server = c.get("server");
    await fleet.heartbeat(server, await readJson(c, HeartbeatSchema, "heartbeat"));
    return c.json({ rotate_token: fleet.rotationDue(server) } satisfies HeartbeatResponse);
  });

  app.post("/token", async (c) => {
    await readJson(c, TokenRotationRequestSchema, "token");
    return c.json({ token: await fleet.rotateToken(c.get("server")) } satisfies TokenRotation);
  });

  return app;
}

export function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1] ?? "";
}
