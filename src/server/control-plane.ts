import { serve, type ServerType } from "@hono/node-server";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import type { Hono } from "hono";
import { createLocalArtifactStore } from "../artifact/local/local-store.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { Balancer, RequestCount } from "../balancer/balancer.js";
import { createBalancer } from "../balancer/create-balancer.js";
import { createLocalCoordinator } from "../coord/local/local-coordinator.js";
import type { ServerConfig } from "../config/server-config.js";
import { Deployer } from "../deploy/deployer.js";
import { parseForecastConfig } from "../forecast/service/forecast-config.js";
import { createForecastService } from "../forecast/service/forecast-service.js";
import { appsToForecast, createForecastScheduler } from "../forecast/service/scheduler.js";
import { parseImageConfig } from "../image/image-config.js";
import { createImageService, type ImageService } from "../image/image-service.js";
import { createLocalImageStore } from "../image/local/local-image-store.js";
import { systemClock, type Clock } from "../lib/clock.js";
import type { Provider } from "../provider/provider.js";
import { createProvider } from "../provider/create-provider.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import type { Store } from "../store/store.js";
import { createApi } from "./app.js";
import { describeRelease, Fleet } from "../fleet/fleet.js";
import { FleetOps } from "../fleet/fleet-ops.js";
import { createRequestCountRecorder } from "./request-counts.js";
import { forecastRoutes } from "./routes/forecasts.js";
import { imageRoutes } from "./routes/images.js";
import { trafficRoutes } from "./routes/traffic.js";
import { newToken } from "../fleet/tokens.js";

export interface ControlPlaneOptions {
  config: ServerConfig;
  clock?: Clock;
  /** Extra environment for agents the local provider starts. */
  agentEnv?: Record<string, string>;
  /** Receives the balancer's per-minute request counts. */
  onRequestCounts?: (counts: RequestCount) => void;
}

export interface ControlPlane {
  url: string;
  adminToken: string;
  joinToken: string;
  dataDir: string;
  api: Hono;
  store: Store;
  balancer: Balancer;
  provider: Provider;
  deployer: Deployer;
  fleet: Fleet;
  fleetOps: FleetOps;
  artifacts: ArtifactStore;
  images: ImageService;
  /** Stops servers it started, listeners and the store. Idempotent. */
  close(): Promise<void>;
}

/** The composition root of `strata server`: builds every real part and starts listening. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const imageConfig = parseImageConfig(config.sections, process.cwd());
  const forecastConfig = parseForecastConfig(config.sections);
  const dataDir = resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const adminToken = await ensureSecret(join(dataDir, "admin-token"));
  const joinToken = await ensureSecret(join(dataDir, "join-token"));

  const store = createSqliteStore({ path: join(dataDir, "state.db"), clock });
  const audit = (action: string, subject: string, detail: Record<string, unknown> = {}) =>
    store.audit.append({ at: clock.now(), actor: "control-plane", action, subject, detail });
  const artifacts = createLocalArtifactStore({ dir: join(dataDir, "artifacts") });
  const localImages = createLocalImageStore({ dir: join(dataDir, "images"), clock });
  const images = createImageService({
    store,
    images: localImages,
    artifacts,
    config: imageConfig,
    clock,
    audit,
  });
  const { traffic, forecasts: forecastRepo } = store;
  const forecasts = createForecastService({
    traffic,
    repo: forecastRepo,
    config: forecastConfig,
    clock,
    audit,
  });
  const requestCounts = createRequestCountRecorder({ groups: store.groups, traffic });
  const balancer = await createBalancer(config.balancer, {
    onCounts: (counts) => {
      requestCounts.record(counts);
      options.onRequestCounts?.(counts);
    },
    ...("openstack" in config.provider ? { defaultCloud: config.provider.openstack.cloud } : {}),
    drainMs: config.drainMs,
  });
  let url = "";
  const ensurePool = async (name: string) => {
    const group = await store.groups.ensure(name);
    const pool = await balancer.ensurePool(name, { port: group.balancer_port ?? 0 });
    if (pool.port !== group.balancer_port)
      await store.groups.update(name, { balancer_port: pool.port });
  };
  const coordinator = createLocalCoordinator({
    store,
    describeRelease: (id) => describeRelease(store, id),
  });
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock,
    joinToken,
    ensurePool,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    drainMs: config.drainMs,
    audit,
  });
  const provider = await createProvider(config.provider, {
    local: {
      dir: join(dataDir, "servers"),
      env: { STRATA_HEARTBEAT_MS: String(config.heartbeatMs), ...options.agentEnv },
      prepareRoot: async (image, root) => void (await localImages.cloneRoot(image, root)),
    },
  });
  const fleetOps = new FleetOps({
    store,
    fleet,
    provider,
    clock,
    audit,
    agent: () => ({ server: url, joinToken }),
    // Baked images are local folders until bakes go through Glance: a cloud boots from its base image.
    ...(provider.name === "local" ? { imageFor: (group: string) => images.imageFor(group) } : {}),
  });
  const deployer = new Deployer({
    store,
    coordinator,
    fleet,
    clock,
    audit,
    serverTimeoutMs: config.serverTimeoutMs,
    onSucceeded: (deployment) => images.onDeploymentSucceeded(deployment),
  });
  const extra = [
    imageRoutes({ images }),
    trafficRoutes({ traffic }),
    forecastRoutes({ forecasts }),
  ];
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
  });

  const http = await listen(api, config.listen.host, config.listen.port);
  const { port } = http.address() as AddressInfo;
  url = `http://${config.listen.host}:${port}`;
  await writeFile(join(dataDir, "server.json"), JSON.stringify({ url, pid: process.pid }, null, 2));

  await deployer.recover();
  await images.start();
  for (const group of await store.groups.list()) await ensurePool(group.name);
  // Balancer membership lives in memory and app health is unknown until the next heartbeat.
  for (const server of await store.servers.list()) {
    await store.servers.update(server.name, { in_service: false, app_healthy: false });
  }
  fleet.start();
  const dailyForecasts = createForecastScheduler({
    clock,
    zone: forecastConfig.zone,
    atMinute: forecastConfig.atMinute,
    apps: () => appsToForecast(store.groups, forecastRepo),
    run: (app) => forecasts.run(app, "daily"),
    repo: forecastRepo,
    audit,
  });
  if (forecastConfig.daily) dailyForecasts.start();
  await provider.resume();
  await audit("server.start", "control-plane", { url });

  let closing: Promise<void> | null = null;
  return {
    url,
    adminToken,
    joinToken,
    dataDir,
    api,
    store,
    balancer,
    provider,
    deployer,
    fleet,
    fleetOps,
    artifacts,
    images,
    close: () =>
      (closing ??= (async () => {
        fleet.stop();
        await dailyForecasts.stop();
        await images.close();
        await provider.close();
        await balancer.close();
        await requestCounts.settle();
        http.closeAllConnections?.();
        await new Promise<void>((done) => http.close(() => done()));
        await audit("server.stop", "control-plane", {});
        await store.close();
        await rm(join(dataDir, "server.json"), { force: true });
      })()),
  };
}

async function ensureSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = newToken();
  await writeFile(path, token + "\n", { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}

function listen(
  api: Hono,
  host: string,
  port: number,
): Promise<ServerType & { closeAllConnections?: () => void }> {
  return new Promise((resolveListen, reject) => {
    const server = serve({ fetch: api.fetch, hostname: host, port }, () => resolveListen(server));
    server.once("error", reject);
    // Outlive the clients' keep-alive (undici: 4 s), so a client never reuses a
    // socket this server is closing (ECONNRESET when the event loop is busy).
    if ("keepAliveTimeout" in server) server.keepAliveTimeout = 65_000;
  });
}
