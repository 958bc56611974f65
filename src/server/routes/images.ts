import { Hono } from "hono";
import type { ImageService } from "../../image/image-service.js";
import { StrataError } from "../../lib/errors.js";
import { z } from "zod";
import { BakeRequestSchema, GcRequestSchema } from "../../wire/image.js";
import { groupName } from "../../wire/names.js";
import { readJson, readQuery } from "../validate.js";

const ImagesQuery = z.strictObject({ group: groupName.optional() });

export interface ImageRouteDeps {
  images: ImageService;
}

/** Bakes, images, channels and GC. Mounted under /v1. */
export function imageRoutes(deps: ImageRouteDeps): Hono {
  const { images } = deps;
  const app = new Hono();

  app.post("/images/bakes", async (c) => {
    const body = await readJson(c, BakeRequestSchema, "bake");
    const bake = await images.requestBake(body.group, "manual");
    return c.json(await images.bake(bake.id), 202);
  });

  app.get("/images/bakes/:id", async (c) => {
    const bake = await images.bake(c.req.param("id"));
    if (!bake) throw new StrataError("not_found", `[server] no bake ${c.req.param("id")}`);
    return c.json(bake);
  });

  app.post("/images/gc", async (c) => {
    const body = await readJson(c, GcRequestSchema.default({}), "gc");
    return c.json(
      await images.gc({
        ...(body.keep !== undefined ? { keep: body.keep } : {}),
        dryRun: body.dry_run === true,
      }),
    );
  });

  app.get("/images", async (c) =>
    c.json(await images.view(readQuery(c, ImagesQuery, "images").group)),
  );

  app.get("/images/:id", async (c) => {
    const image = (await images.view()).images.find((i) => i.id === c.req.param("id"));
    if (!image) throw new StrataError("not_found", `[server] no image ${c.req.param("id")}`);
    return c.json(image);
  });

  return app;
}
