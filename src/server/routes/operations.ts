import { Hono } from "hono";
import type { z } from "zod";
import type { Deployer } from "../../deploy/deployer.js";
import { GroupNameSchema, LockRequestSchema, type LockStatusView } from "../../wire/lock.js";
import { badRequest } from "../http-errors.js";

/** Day-two operations on running deployments and groups: cancel, maintenance locks. */
export function operationRoutes(deps: { deployer: Deployer }): Hono {
  const { deployer } = deps;
  const app = new Hono();

  app.post("/deployments/:id/cancel", async (c) =>
    c.json(await deployer.cancel(c.req.param("id")), 202),
  );

  app.get("/groups/:group/lock", async (c) => {
    const group = parse(GroupNameSchema, c.req.param("group"), "group");
    const view: LockStatusView = { group, lock: await deployer.lockStatus(group) };
    return c.json(view);
  });

  app.post("/groups/:group/lock", async (c) => {
    const group = parse(GroupNameSchema, c.req.param("group"), "group");
    const body = parse(LockRequestSchema, await c.req.json().catch(() => null), "body");
    return c.json(await deployer.lock(group, body.message), 201);
  });

  app.delete("/groups/:group/lock", async (c) => {
    const group = parse(GroupNameSchema, c.req.param("group"), "group");
    await deployer.unlock(group);
    const view: LockStatusView = { group, lock: null };
    return c.json(view);
  });

  return app;
}

/** Parses with `schema`; a 400 naming the first offending field otherwise. */
function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join(".") : what;
  throw badRequest(`[server] ${field}: ${issue.message}`);
}
