import { Hono } from "hono";
import type { Coordinator } from "../../coord/coordinator.js";
import type { ServerRecord } from "../../store/store.js";
import type { AgentReport, Heartbeat, JoinRequest } from "../../wire/agent.js";
import type { Fleet } from "../../fleet/fleet.js";
import { badRequest } from "../http-errors.js";

type Env = { Variables: { server: ServerRecord } };

/** Longest long poll an agent may ask for, in seconds. */
const MAX_WAIT_S = 60;

/** Routes agents call: join with the join token, the rest with their own token. */
export function agentRoutes(deps: { fleet: Fleet; coordinator: Coordinator }): Hono<Env> {
  const { fleet, coordinator } = deps;
  const app = new Hono<Env>();

  app.post("/join", async (c) => c.json(await fleet.join(await c.req.json<JoinRequest>())));

  app.use("/*", async (c, next) => {
    if (c.req.path.endsWith("/join")) return next();
    const token = bearer(c.req.header("authorization"));
    c.set("server", await fleet.authenticate(token));
    await next();
  });

  app.get("/desired", async (c) => {
    const after = Number(c.req.query("after") ?? "-1");
    const wait = Math.min(Number(c.req.query("wait") ?? "0"), MAX_WAIT_S);
    if (!Number.isFinite(after) || !Number.isFinite(wait))
      throw badRequest("[server] desired: after and wait must be numbers");
    const abort = new AbortController();
    c.req.raw.signal.addEventListener("abort", () => abort.abort(), { once: true });
    return c.json(await coordinator.watch(c.get("server").name, after, wait * 1000, abort.signal));
  });

  app.post("/report", async (c) => {
    await fleet.report(c.get("server"), await c.req.json<AgentReport>());
    return c.body(null, 204);
  });

  app.post("/heartbeat", async (c) => {
    await fleet.heartbeat(c.get("server"), await c.req.json<Heartbeat>());
    return c.body(null, 204);
  });

  return app;
}

export function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1] ?? "";
}
