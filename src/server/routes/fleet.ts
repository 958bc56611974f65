import { Hono } from "hono";
import type { Balancer } from "../../balancer/balancer.js";
import type { Coordinator } from "../../coord/coordinator.js";
import { isoTime } from "../../lib/clock.js";
import type { ServerRecord, Store } from "../../store/store.js";
import { z } from "zod";
import { FleetDownRequestSchema, ScaleRequestSchema } from "../../wire/image.js";
import { groupName } from "../../wire/names.js";
import type { GroupView, ServerView, StatusView } from "../../wire/server.js";
import type { FleetOps } from "../../fleet/fleet-ops.js";
import type { Fleet } from "../../fleet/fleet.js";
import { readJson, readQuery } from "../validate.js";

const StatusQuery = z.strictObject({ group: groupName.optional() });
const AuditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).default(200),
  subject: z.string().max(200).optional(),
});

/** Status of groups and servers, fleet up/down, and the audit log. */
export function fleetRoutes(deps: {
  store: Store;
  fleetOps: FleetOps;
  balancer: Balancer;
  coordinator: Coordinator;
  /** Reads each server's file-store size from its last heartbeat. */
  fleet?: Pick<Fleet, "storeBytes">;
}): Hono {
  const { store, fleetOps, balancer, coordinator } = deps;
  const app = new Hono();

  app.get("/status", async (c) => {
    const { group } = readQuery(c, StatusQuery, "status");
    const view = await status(store, balancer, coordinator, group);
    for (const s of view.servers) s.store_bytes = deps.fleet?.storeBytes(s.name) ?? null;
    return c.json(view);
  });

  app.post("/fleet/up", async (c) => {
    const { group, count } = await readJson(c, ScaleRequestSchema, "fleet up");
    const launched = await fleetOps.up(group, count);
    return c.json({ launched, ...(await status(store, balancer, coordinator, group)) });
  });

  /** Exactly `count` servers: scale-out launches from the group's channel image. */
  app.post("/fleet/scale", async (c) => {
    const { group, count } = await readJson(c, ScaleRequestSchema, "fleet scale");
    return c.json(await fleetOps.scale(group, count));
  });

  app.post("/fleet/down", async (c) => {
    const body = await readJson(c, FleetDownRequestSchema, "fleet down");
    return c.json({ terminated: await fleetOps.down("group" in body ? body.group : undefined) });
  });

  app.get("/audit", async (c) => {
    const { limit, subject } = readQuery(c, AuditQuery, "audit");
    const entries = await store.audit.list({ limit, ...(subject ? { subject } : {}) });
    return c.json({ entries: entries.map((e) => ({ ...e, at: isoTime(e.at) })) });
  });

  return app;
}

export async function status(
  store: Store,
  balancer: Balancer,
  coordinator: Coordinator,
  group?: string,
): Promise<StatusView> {
  const releases = new Map((await store.releases.list()).map((r) => [r.id, r]));
  const groups = (await store.groups.list()).filter((g) => !group || g.name === group);
  const groupViews: GroupView[] = await Promise.all(
    groups.map(async (g) => {
      const pool = await balancer
        .ensurePool(g.name, { port: g.balancer_port ?? 0 })
        .catch(() => null);
      return {
        name: g.name,
        app: g.app,
        desired_release: g.desired_release,
        desired_version: g.desired_release
          ? (releases.get(g.desired_release)?.version ?? null)
          : null,
        balancer: pool?.address ?? null,
      };
    }),
  );
  const servers = await store.servers.list(group);
  const desired = await Promise.all(servers.map((s) => coordinator.desired(s.name)));
  return {
    groups: groupViews,
    servers: servers.map((s, i) => serverView(s, desired[i]!.release?.id ?? null, releases)),
  };
}

function serverView(
  s: ServerRecord,
  desiredRelease: string | null,
  releases: Map<string, { version: string }>,
): ServerView {
  const time = (ms: number | null) => (ms === null ? null : isoTime(ms));
  return {
    name: s.name,
    address: s.address,
    group: s.group,
    state: s.state,
    release: s.current_release,
    version: s.current_release ? (releases.get(s.current_release)?.version ?? null) : null,
    desired_release: desiredRelease,
    in_service: s.in_service,
    last_heartbeat: time(s.last_heartbeat),
    image: s.image,
    launched_at: time(s.launched_at),
    ready_at: time(s.ready_at),
    in_service_at: time(s.in_service_at),
  };
}
