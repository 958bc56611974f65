import { serve, type ServerType } from "@hono/node-server";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import type { Hono } from "hono";
import { ensureReleaseSigner } from "../artifact/signing.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { Balancer, RequestCount } from "../balancer/balancer.js";
import { createDaemonBalancer, type DaemonBalancer } from "../balancer/local/daemon-client.js";
import { createConfiguredArtifactStore } from "../artifact/artifact-config.js";
import { createConfiguredCoordinator } from "../coord/coordination-config.js";
import { replicaId } from "../coord/etcd/etcd-coordinator.js";
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
import { createStore } from "../store/state-config.js";
import { createProvider } from "../provider/create-provider.js";
import type { Store } from "../store/store.js";
import { createServer as createHttpsServer } from "node:https";
import { currentActor } from "./access.js";
import { ensureTls, isLoopback, type TlsMaterial } from "./tls.js";
import { createApi } from "./app.js";
import { leadSchedulers, parseEngines } from "./engines.js";
import { describeRelease, Fleet } from "../fleet/fleet.js";
import { FleetOps } from "../fleet/fleet-ops.js";
import { createRequestCountRecorder } from "./request-counts.js";
import { createControlPlaneMetrics } from "./metrics/control-plane-metrics.js";
import { CONTENT_TYPE } from "./metrics/registry.js";
import { VERSION } from "../lib/version.js";
import { auditRoutes } from "./routes/audit.js";
import { forecastRoutes } from "./routes/forecasts.js";
import { imageRoutes } from "./routes/images.js";
import { operationRoutes } from "./routes/operations.js";
import { trafficRoutes } from "./routes/traffic.js";
import { dashboardPublicRoutes, dashboardRoutes } from "./routes/dashboard.js";
import { createEventHub, type EventHub } from "./event-hub.js";
import { publishAudit, startLiveEvents, type LiveEvents } from "./live-events.js";
import { createSessions } from "./sessions.js";
import { createWebFiles } from "./web-files.js";
import { newToken } from "../fleet/tokens.js";
import { createFleetPort } from "../scale/fleet-port.js";
import { createForecasterScore, createLiveInputs } from "../scale/live-inputs.js";
import type { ScaleMode } from "../scale/executor.js";
import { parseScalingConfig } from "../scale/scale-config.js";
import { createScaleService, type ScaleService } from "../scale/scale-service.js";
import { scaleRoutes } from "./routes/scale.js";

export interface ControlPlaneOptions {
  config: ServerConfig;
  clock?: Clock;
  /** Extra environment for agents the local provider starts. */
  agentEnv?: Record<string, string>;
  /** Stage releases before any server leaves the balancer (off only in a benchmark's baseline). @default true */
  stageFirst?: boolean;
  /** Receives the balancer's per-minute request counts. */
  onRequestCounts?: (counts: RequestCount) => void;
  /** Clock of forecasts and scaling decisions, when not `clock`: the demo's replay compresses a day. */
  planningClock?: Clock;
  /** Folder of the built dashboard. @default dist/web of this package */
  webDir?: string;
}

export interface ControlPlane {
  url: string;
  adminToken: string;
  /** PEM of strata's CA when the API serves HTTPS (agents pin it at join), else null. */
  ca: string | null;
  /** The cluster-wide join token; agents may join with it only when `join.cluster_token` is on. */
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
  scale: ScaleService;
  /**
   * Stops the control plane and, unless `keepDataPlane`, the data plane too
   * (local servers and the balancer daemon). With `keepDataPlane` they go on
   * serving, and the next start on the same data folder takes them over. Idempotent.
   */
  close(options?: { keepDataPlane?: boolean }): Promise<void>;
  /** The dashboard's live events. */
  events: EventHub;
}

/** The composition root of `strata server`: builds every real part and starts listening. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const imageConfig = parseImageConfig(config.sections, process.cwd());
  const forecastConfig = parseForecastConfig(config.sections);
  const engines = parseEngines(config.sections);
  const dataDir = resolve(config.dataDir);
  // 0711: apps (an unprivileged account) pass through to their server roots, never list; secrets are 0600.
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  await chmod(dataDir, 0o711);
  const adminToken = await ensureSecret(join(dataDir, "admin-token"));
  const joinToken = await ensureSecret(join(dataDir, "join-token"));
  const signer = await ensureReleaseSigner(join(dataDir, "release-signing-key.pem"));

  const store = await createStore(engines.state, { dataDir, clock });
  for (const file of ["state.db", "state.db-wal", "state.db-shm"]) {
    await chmod(join(dataDir, file), 0o600).catch(() => undefined);
  }
  // Made below, used by callbacks built before them: the balancer (its totals are read at
  // scrape time) and the live events (fed every agent report).
  const late: { balancer?: DaemonBalancer; live?: LiveEvents } = {};
  const metrics = createControlPlaneMetrics({
    store,
    version: VERSION,
    balancerTotals: () => late.balancer?.totals() ?? Promise.resolve({}),
  });
  const events = createEventHub({ clock });
  const audit = async (action: string, subject: string, detail: Record<string, unknown> = {}) => {
    const entry = { at: clock.now(), actor: currentActor(), action, subject, detail };
    await store.audit.append(entry);
    publishAudit(events, entry);
    metrics.audit(action, detail);
  };
  const artifacts = await createConfiguredArtifactStore(engines.artifacts, { dataDir });
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
  const planningClock = options.planningClock ?? clock;
  const forecasts = createForecastService({
    traffic,
    repo: forecastRepo,
    config: forecastConfig,
    clock: planningClock,
    audit,
  });
  const requestCounts = createRequestCountRecorder({ groups: store.groups, traffic });
  const octavia = config.settings["balancer.octavia"];
  const openstackCloud = config.settings["provider.openstack"]?.cloud;
  const balancer: DaemonBalancer = octavia
    ? withoutTotals(
        await createBalancer(
          { octavia },
          {
            drainMs: config.drainMs,
            ...(openstackCloud ? { defaultCloud: openstackCloud } : {}),
          },
        ),
      )
    : await createDaemonBalancer({
        dir: dataDir,
        host: config.balancerHost,
        onCounts: (counts) => {
          requestCounts.record(counts);
          events.publish("traffic", { group: counts.group });
          options.onRequestCounts?.(counts);
        },
      });
  late.balancer = balancer;
  let url = "";
  const ensurePool = async (name: string) => {
    const group = await store.groups.ensure(name);
    const pool = await balancer.ensurePool(name, { port: group.balancer_port ?? 0 });
    if (pool.port !== group.balancer_port)
      await store.groups.update(name, { balancer_port: pool.port });
  };
  const cluster = await createConfiguredCoordinator(engines.coordination);
  const coordinator =
    cluster ??
    createLocalCoordinator({
      desired: store.desired,
      describeRelease: (id) => describeRelease(store, id, signer),
    });
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock,
    clusterJoinToken: config.clusterJoinToken ? joinToken : null,
    signer,
    onReport: (server, report) => {
      metrics.report(server, report);
      late.live?.onReport(server, report);
      deployer.onReport(server, report);
    },
    ensurePool,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    drainMs: config.drainMs,
    audit,
  });
  const openstack = config.settings["provider.openstack"];
  const provider = await createProvider(
    openstack ? { openstack } : { local: { address_prefix: config.addressPrefix } },
    {
      local: {
        dir: join(dataDir, "servers"),
        env: { STRATA_HEARTBEAT_MS: String(config.heartbeatMs), ...options.agentEnv },
        prepareRoot: async (image, root) => void (await localImages.cloneRoot(image, root)),
      },
    },
  );
  const fleetOps = new FleetOps({
    store,
    fleet,
    provider,
    clock,
    audit,
    agent: () => ({ server: url, ...(tls ? { ca: tls.ca } : {}) }),
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
    ...(options.stageFirst === false ? { stageFirst: false } : {}),
    onSucceeded: (deployment) => images.onDeploymentSucceeded(deployment),
    onWave: (_deployment, _wave, ok) => metrics.wave(ok),
  });
  const scale = createScaleService({
    groups: parseScalingConfig(config.sections),
    clock: planningClock,
    audit,
    port: (group) =>
      createFleetPort({ group, store, fleetOps, currentImage: () => images.imageFor(group) }),
    inputs: (group) => createLiveInputs({ group, store, forecasts }),
    lastModeChange: async (group) => {
      const entries = await store.audit.list({ subject: group, limit: 1000 });
      const d = entries.find((e) => e.action === "scale.mode")?.detail;
      return d ? { to: d.to as ScaleMode, configured: d.configured as ScaleMode } : null;
    },
    forecasterScore: (group) =>
      createForecasterScore({ group, store, model: forecastConfig.model }),
  });
  const extra = [
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
    open: dashboardPublicRoutes({
      sessions,
      web: createWebFiles(options.webDir),
      tokenFile: join(dataDir, "admin-token"),
    }),
    readSession: (cookie) => sessions.valid(cookie),
    signer,
  });
  const live = startLiveEvents({ hub: events, store, deployer });
  late.live = live;

  // Prometheus scrapes without the admin token (it carries no secrets); outside /v1.
  api.get("/metrics", async (c) =>
    c.body(await metrics.render(), 200, { "content-type": CONTENT_TYPE }),
  );
  const host = config.listen.host;
  const secure = config.tls === "on" || (config.tls === "auto" && !isLoopback(host));
  const tls = secure ? await ensureTls(dataDir, [host, "127.0.0.1", "localhost"]) : null;
  if (!secure && !isLoopback(host)) {
    process.stderr.write(
      `[server] warning: listening on ${host} without TLS (tls: off): tokens cross the network in the clear\n`,
    );
  }
  const http = await listen(api, host, config.listen.port, tls);
  const { port } = http.address() as AddressInfo;
  url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  await writeFile(
    join(dataDir, "server.json"),
    JSON.stringify({ url, pid: process.pid, ...(tls ? { ca_file: tls.caFile } : {}) }, null, 2),
  );

  await images.start();
  for (const group of await store.groups.list()) await ensurePool(group.name);
  // Membership lives in the balancer, which may have served on while no control plane ran:
  // what it has is what is in service. App health is refreshed by the next heartbeat.
  const members = new Map<string, Set<string>>();
  for (const server of await store.servers.list()) {
    if (!members.has(server.group)) {
      const list = await balancer.members(server.group).catch(() => []);
      members.set(server.group, new Set(list.map((m) => m.id)));
    }
    const inService = members.get(server.group)!.has(server.name);
    if (inService !== server.in_service)
      await store.servers.update(server.name, { in_service: inService });
  }
  fleet.start();
  // After the reset above: a resumed wave's service-in must not be undone by it. With several
  // replicas the leader's sweep (leadSchedulers) takes over deployments whose replica died.
  if (!cluster) await deployer.recover();
  const dailyForecasts = createForecastScheduler({
    clock,
    zone: forecastConfig.zone,
    atMinute: forecastConfig.atMinute,
    apps: () => appsToForecast(store.groups, forecastRepo),
    run: (app) => forecasts.run(app, "daily"),
    repo: forecastRepo,
    audit,
  });
  const startForecasts = async () => {
    if (forecastConfig.daily) dailyForecasts.start();
    return () => dailyForecasts.stop();
  };
  // With several replicas one leads the schedulers and takes over orphaned deployments.
  const leading = cluster
    ? leadSchedulers(cluster, replicaId(config.listen.host), deployer, [startForecasts])
    : null;
  if (!cluster) await startForecasts();
  await provider.resume();
  await scale.start();
  await audit("server.start", "control-plane", { url });

  let closing: Promise<void> | null = null;
  return {
    url,
    adminToken,
    ca: tls?.ca ?? null,
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
    scale,
    events,
    close: (closeOptions = {}) =>
      (closing ??= (async () => {
        const stopDataPlane = !closeOptions.keepDataPlane;
        live.stop();
        await scale.stop();
        fleet.stop();
        await deployer.stop();
        await leading?.stop();
        await dailyForecasts.stop();
        await images.close();
        await provider.close({ stopServers: stopDataPlane });
        await balancer.close({ stopDataPlane });
        await requestCounts.settle();
        http.closeAllConnections?.();
        await new Promise<void>((done) => http.close(() => done()));
        await audit("server.stop", "control-plane", {});
        await cluster?.close();
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
  tls: TlsMaterial | null,
): Promise<ServerType & { closeAllConnections?: () => void }> {
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

/** A balancer of another kind (Octavia) counts no requests of its own for /metrics. */
function withoutTotals(balancer: Balancer): DaemonBalancer {
  return Object.assign(balancer, { totals: async () => ({}) });
}
