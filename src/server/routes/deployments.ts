import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { Deployer } from "../../deploy/deployer.js";
import { StrataError } from "../../lib/errors.js";
import type { DeployRequest, DeploymentEvent, RollbackRequest } from "../../wire/deployment.js";

export function deploymentRoutes(deps: { deployer: Deployer }): Hono {
  const { deployer } = deps;
  const app = new Hono();

  app.post("/deployments", async (c) =>
    c.json(await deployer.start(await c.req.json<DeployRequest>()), 202),
  );
  app.post("/rollbacks", async (c) =>
    c.json(await deployer.rollback(await c.req.json<RollbackRequest>()), 202),
  );

  app.get("/deployments", async (c) => {
    const limit = Number(c.req.query("limit") ?? "20");
    const app = c.req.query("app");
    const group = c.req.query("group");
    return c.json({
      deployments: await deployer.list({
        limit: Number.isInteger(limit) && limit > 0 ? limit : 20,
        ...(app ? { app } : {}),
        ...(group ? { group } : {}),
      }),
    });
  });

  app.get("/deployments/:id", async (c) => {
    const view = await deployer.view(c.req.param("id"));
    if (!view) throw new StrataError("not_found", `[server] no deployment ${c.req.param("id")}`);
    return c.json(view);
  });

  /** NDJSON: a snapshot, then events until `done`. */
  app.get("/deployments/:id/events", async (c) => {
    const id = c.req.param("id");
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
