import { Hono } from "hono";
import type { ImageService } from "../../image/image-service.js";
import { StrataError } from "../../lib/errors.js";
import type { Provider } from "../../provider/provider.js";
import type { Store } from "../../store/store.js";
import type { BakeRequest, GcRequest, ScaleRequest, ScaleView } from "../../wire/image.js";
import type { Fleet } from "../fleet.js";
import type { FleetOps } from "../fleet-ops.js";
import { badRequest } from "../http-errors.js";

export interface ImageRouteDeps {
  images: ImageService;
  store: Store;
  fleet: Fleet;
  fleetOps: FleetOps;
  provider: Provider;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

const GROUP = /^[a-z][a-z0-9-]{0,30}$/;

/** Bakes, images, channels and GC, plus `fleet/scale` (scale-out launches from the group's channel). Mounted under /v1. */
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

  app.post("/fleet/scale", async (c) => {
    const body = await c.req.json<ScaleRequest>().catch(() => null);
    return c.json(await scaleGroup(deps, body?.group, body?.count));
  });

  return app;
}

/**
 * Sets a group to exactly `count` servers. Missing ones launch from the
 * group's channel image (FleetOps asks `imageFor`); surplus ones (out of
 * service first, then the highest-numbered) are drained from the balancer,
 * then terminated.
 */
export async function scaleGroup(
  deps: ImageRouteDeps,
  group: unknown,
  count: unknown,
): Promise<ScaleView> {
  if (typeof group !== "string" || !GROUP.test(group)) {
    throw badRequest(
      `[server] scale: group must be lowercase letters, digits and dashes, got ${JSON.stringify(group)}`,
    );
  }
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > 250) {
    throw badRequest(
      `[server] scale: count must be a whole number from 0 to 250, got ${JSON.stringify(count)}`,
    );
  }
  const { store, fleet, provider, audit } = deps;
  const live = await store.servers.list(group);
  if (count >= live.length) {
    const image = await deps.images.imageFor(group);
    const launched = await deps.fleetOps.up(group, count);
    return { group, count, image, launched, terminated: [] };
  }
  const victims = [...live]
    .sort(
      (a, b) =>
        Number(a.in_service) - Number(b.in_service) ||
        b.name.localeCompare(a.name, "en", { numeric: true }),
    )
    .slice(0, live.length - count);
  const names = victims.map((s) => s.name);
  await fleet.holdOut(names);
  for (const server of victims) {
    if (server.provider_id) await provider.terminate(server.provider_id);
    await store.servers.update(server.name, {
      state: "terminated",
      in_service: false,
      token_hash: null,
    });
    await audit("server.terminate", server.name, { group, reason: `scale to ${count}` });
  }
  // Forget the hold: a later server may reuse a name.
  await fleet.letIn(names);
  return { group, count, image: null, launched: [], terminated: names };
}
