import { Hono } from "hono";
import type { ScaleService } from "../../scale/scale-service.js";
import { setModeRequestSchema } from "../../wire/scale.js";
import { badRequest, errorResponse } from "../http-errors.js";

const GROUP = /^[a-z][a-z0-9-]{0,30}$/;

/**
 * Planned scaling of a group: `GET /scale/:group/plan` (next 24 h), `GET /scale/:group/status`
 * and `PUT /scale/:group/mode` `{ mode }`. Mounted under `/v1` behind admin auth.
 */
export function scaleRoutes(deps: { scale: ScaleService }): Hono {
  const { scale } = deps;
  const app = new Hono();
  app.onError(errorResponse);
  const group = (value: string) => {
    if (!GROUP.test(value))
      throw badRequest(`[scale] group: "${value}" must be lowercase letters, digits and dashes`);
    return value;
  };
  app.get("/scale/:group/plan", async (c) => c.json(await scale.plan(group(c.req.param("group")))));
  app.get("/scale/:group/status", async (c) =>
    c.json(await scale.status(group(c.req.param("group")))),
  );
  app.put("/scale/:group/mode", async (c) => {
    const name = group(c.req.param("group"));
    const body = setModeRequestSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!body.success) {
      const issue = body.error.issues[0];
      const field =
        issue?.path.join(".") || (issue?.code === "unrecognized_keys" ? issue.keys[0] : "body");
      throw badRequest(
        `[scale] PUT mode: ${field}: expected { "mode": "off" | "forecast-only" | "on" }`,
      );
    }
    return c.json(await scale.setMode(name, body.data.mode));
  });
  return app;
}
