import { Hono } from "hono";
import type { ImageService } from "../../image/image-service.js";
import { StrataError } from "../../lib/errors.js";
import type { BakeRequest, GcRequest } from "../../wire/image.js";
import { badRequest } from "../http-errors.js";

export interface ImageRouteDeps {
  images: ImageService;
}

/** Bakes, images, channels and GC. Mounted under /v1. */
export function imageRoutes(deps: ImageRouteDeps): Hono {
  const { images } = deps;
  const app = new Hono();

  app.post("/images/bakes", async (c) => {
    const body = await c.req.json<BakeRequest>().catch(() => null);
    if (typeof body?.group !== "string") throw badRequest("[server] bake: group is required");
    const bake = await images.requestBake(body.group, "manual");
    return c.json(await images.bake(bake.id), 202);
  });

  app.get("/images/bakes/:id", async (c) => {
    const bake = await images.bake(c.req.param("id"));
    if (!bake) throw new StrataError("not_found", `[server] no bake ${c.req.param("id")}`);
    return c.json(bake);
  });

  app.post("/images/gc", async (c) => {
    const body: GcRequest = (await c.req.json<GcRequest>().catch(() => null)) ?? {};
    if (body.keep !== undefined && typeof body.keep !== "number")
      throw badRequest("[server] gc: keep must be a number");
    return c.json(
      await images.gc({
        ...(body.keep !== undefined ? { keep: body.keep } : {}),
        dryRun: body.dry_run === true,
      }),
    );
  });

  app.get("/images", async (c) => c.json(await images.view(c.req.query("group") || undefined)));

  app.get("/images/:id", async (c) => {
    const image = (await images.view()).images.find((i) => i.id === c.req.param("id"));
    if (!image) throw new StrataError("not_found", `[server] no image ${c.req.param("id")}`);
    return c.json(image);
  });

  return app;
}
