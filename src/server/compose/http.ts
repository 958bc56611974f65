import { serve, type ServerType } from "@hono/node-server";
import { writeFile } from "node:fs/promises";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Hono } from "hono";
import type { Balancer } from "../../balancer/balancer.js";
import type { ServerConfig } from "../../config/server-config.js";
import type { Deployer } from "../../deploy/deployer.js";
import type { Fleet } from "../../fleet/fleet.js";
import type { FleetOps } from "../../fleet/fleet-ops.js";
import type { AuditFn, ForecastService } from "../../forecast/service/forecast-service.js";
import type { ImageService } from "../../image/image-service.js";
import type { ReleaseGrants } from "../../image/release-grants.js";
import type { Clock } from "../../lib/clock.js";
import type { ScaleService } from "../../scale/scale-service.js";
import { createApi } from "../app.js";
import type { EventHub } from "../event-hub.js";
import type { ControlPlaneMetrics } from "../metrics/control-plane-metrics.js";
import { CONTENT_TYPE } from "../../lib/metrics/registry.js";
import { auditRoutes } from "../routes/audit.js";
import { dashboardPublicRoutes, dashboardRoutes } from "../routes/dashboard.js";
import { forecastRoutes } from "../routes/forecasts.js";
import { imageRoutes } from "../routes/images.js";
import { operationRoutes } from "../routes/operations.js";
import { scaleRoutes } from "../routes/scale.js";
import { trafficRoutes } from "../routes/traffic.js";
import { createSessions } from "../sessions.js";
import { ensureTls, isLoopback, type TlsMaterial } from "../tls.js";
import { createWebFiles } from "../web-files.js";
import type { ControlPlaneState } from "./state.js";

export interface HttpApiOptions {
  state: ControlPlaneState;
  clock: Clock;
  audit: AuditFn;
  balancer: Balancer;
  fleet: Fleet;
  fleetOps: FleetOps;
  deployer: Deployer;
  images: ImageService;
  forecasts: ForecastService;
  scale: ScaleService;
  events: EventHub;
  metrics: ControlPlaneMetrics;
  /** Folder of the built dashboard. @default dist/web of this package */
  webDir?: string;
  /** Bake builders' release credentials (src/image/release-grants.ts). */
  grants?: Pick<ReleaseGrants, "check">;
  /** Further routes of other parts: admin ones under /v1, agent ones under /v1/agents. */
  routes?: { admin?: Hono[]; agent?: Hono[] };
}

/** The HTTP API with every route mounted, the dashboard's and /metrics included. */
export function createHttpApi(options: HttpApiOptions): Hono {
  const { state, clock, audit, balancer, fleet, fleetOps, deployer } = options;
  const { images, forecasts, scale, events, metrics } = options;
  const { dataDir, adminToken, store, coordinator, artifacts } = state;
  const { traffic } = store;
  const extra = [
    ...(options.routes?.admin ?? []),
    scaleRoutes({ scale }),
    imageRoutes({ images }),
    trafficRoutes({ traffic }),
    forecastRoutes({ forecasts }),
    operationRoutes({ deployer }),
    dashboardRoutes({
      hub: events,
      store,
      forecasts,
      clock,
      // Ahead of now, the timeline draws what the scaler plans (groups without `scaling:` have none).
      plannedServers: async (group, from, to) => {
        const plan = await scale.plan(group).catch(() => null);
        const steps = (plan?.steps ?? [])
          .map((s) => ({ time: Date.parse(s.time), count: s.servers }))
          .filter((s) => s.time >= from && s.time < to);
        return { time: steps.map((s) => s.time), count: steps.map((s) => s.count) };
      },
    }),
    auditRoutes({ audit: store.audit }),
  ];
  const sessions = createSessions({
    adminToken,
    clock,
    file: join(dataDir, "dashboard-sessions.json"),
  });
  const api = createApi({
    store,
    coordinator,
    artifacts,
    balancer,
    fleet,
    fleetOps,
    deployer,
    clock,
    adminToken,
    audit,
    extra,
    agentExtra: options.routes?.agent ?? [],
    open: dashboardPublicRoutes({
      sessions,
      web: createWebFiles(options.webDir),
      tokenFile: join(dataDir, "admin-token"),
    }),
    readSession: (cookie) => sessions.valid(cookie),
    signer: state.signer,
    ...(options.grants ? { grants: options.grants } : {}),
  });

  // Prometheus scrapes without the admin token (it carries no secrets); outside /v1.
  api.get("/metrics", async (c) =>
    c.body(await metrics.render(), 200, { "content-type": CONTENT_TYPE }),
  );
  return api;
}

/** HTTPS material when the API serves it: `tls: on`, or `auto` off loopback (warned about otherwise). */
export async function prepareTls(
  config: ServerConfig,
  dataDir: string,
): Promise<TlsMaterial | null> {
  const host = config.listen.host;
  const secure = config.tls === "on" || (config.tls === "auto" && !isLoopback(host));
  const tls = secure ? await ensureTls(dataDir, [host, "127.0.0.1", "localhost"]) : null;
  if (!secure && !isLoopback(host)) {
    process.stderr.write(
      `[server] warning: listening on ${host} without TLS (tls: off): tokens cross the network in the clear\n`,
    );
  }
  return tls;
}

export type HttpServer = ServerType & { closeAllConnections?: () => void };

/** Listens and writes `server.json` (where the CLI finds the API); returns the server and its URL. */
export async function listenApi(
  api: Hono,
  config: ServerConfig,
  dataDir: string,
  tls: TlsMaterial | null,
): Promise<{ http: HttpServer; url: string }> {
  const host = config.listen.host;
  const http = await listen(api, host, config.listen.port, tls);
  const { port } = http.address() as AddressInfo;
  const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  await writeFile(
    join(dataDir, "server.json"),
    JSON.stringify({ url, pid: process.pid, ...(tls ? { ca_file: tls.caFile } : {}) }, null, 2),
  );
  return { http, url };
}

/** Stops listening, dropping idle keep-alive connections at once. */
export async function closeHttp(http: HttpServer): Promise<void> {
  http.closeAllConnections?.();
  await new Promise<void>((done) => http.close(() => done()));
}

function listen(
  api: Hono,
  host: string,
  port: number,
  tls: TlsMaterial | null,
): Promise<HttpServer> {
  return new Promise((resolveListen, reject) => {
    const options = tls
      ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } }
      : {};
    const server = serve({ fetch: api.fetch, hostname: host, port, ...options }, () =>
      resolveListen(server),
    );
    server.once("error", reject);
    // Outlive the clients' keep-alive (undici: 4 s), so a client never reuses a
    // socket this server is closing (ECONNRESET when the event loop is busy).
    if ("keepAliveTimeout" in server) server.keepAliveTimeout = 65_000;
  });
}
