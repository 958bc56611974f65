import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { Deployer } from "../../deploy/deployer.js";
import { StrataError } from "../../lib/errors.js";
import { z } from "zod";
import {
  DeployRequestSchema,
  RollbackRequestSchema,
  type DeploymentEvent,
} from "../../wire/deployment.js";
import { appName, groupName } from "../../wire/names.js";
import { readJson, readParams, readQuery } from "../validate.js";

const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  app: appName.optional(),
  group: groupName.optional(),
});
const IdParams = z.object({
  id: z.string().regex(/^d-[a-z0-9-]{1,40}$/, "is not a deployment id"),
});

export function deploymentRoutes(deps: { deployer: Deployer }): Hono {
  const { deployer } = deps;
  const app = new Hono();

  app.post("/deployments", async (c) =>
    c.json(await deployer.start(await readJson(c, DeployRequestSchema, "deploy")), 202),
  );
  app.post("/rollbacks", async (c) =>
    c.json(await deployer.rollback(await readJson(c, RollbackRequestSchema, "rollback")), 202),
  );

  app.get("/deployments", async (c) => {
    const { limit, app, group } = readQuery(c, ListQuery, "deployments");
    return c.json({
      deployments: await deployer.list({
        limit,
        ...(app ? { app } : {}),
        ...(group ? { group } : {}),
      }),
    });
  });

  app.get("/deployments/:id", async (c) => {
    const { id } = readParams(c, IdParams, "deployment");
    const view = await deployer.view(id);
    if (!view) throw new StrataError("not_found", `[server] no deployment ${id}`);
    return c.json(view);
  });

  /** NDJSON: a snapshot, then events until `done`. */
  app.get("/deployments/:id/events", async (c) => {
    const { id } = readParams(c, IdParams, "deployment events");
    const first = await deployer.view(id);
    if (!first) throw new StrataError("not_found", `[server] no deployment ${id}`);
    c.header("content-type", "application/x-ndjson");
    return stream(c, async (out) => {
      const queue: DeploymentEvent[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = deployer.subscribe(id, (event) => {
        queue.push(event);
        wake?.();
      });
      out.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      // Subscribed before the snapshot is read, so no event falls between the two.
      const snapshot = (await deployer.view(id))!;
      await out.write(JSON.stringify({ type: "snapshot", deployment: snapshot }) + "\n");
      if (snapshot.state !== "running") {
        await out.write(JSON.stringify({ type: "done", deployment: snapshot }) + "\n");
        unsubscribe();
        return;
      }
      while (!out.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        await out.write(JSON.stringify(event) + "\n");
        if (event.type === "done") break;
      }
      unsubscribe();
    });
  });

  return app;
}
