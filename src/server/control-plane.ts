import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Hono } from "hono";
import type { ArtifactStore } from "../artifact/store.js";
import type { Balancer, RequestCount } from "../balancer/balancer.js";
import type { ServerConfig } from "../config/server-config.js";
import { Deployer } from "../deploy/deployer.js";
import type { Fleet } from "../fleet/fleet.js";
import type { FleetOps } from "../fleet/fleet-ops.js";
import { parseForecastConfig } from "../forecast/service/forecast-config.js";
import { parseImageConfig } from "../image/image-config.js";
import type { ImageService } from "../image/image-service.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { VERSION } from "../lib/version.js";
import type { Provider } from "../provider/provider.js";
import type { ScaleService } from "../scale/scale-service.js";
import type { Store } from "../store/store.js";
import { currentActor } from "./access.js";
import { adoptMembership, createDataPlane, openBalancer } from "./compose/data-plane.js";
import { closeHttp, createHttpApi, listenApi, prepareTls } from "./compose/http.js";
import { createPlanning, createScaling, startSchedulers } from "./compose/schedulers.js";
import { openState } from "./compose/state.js";
import { createReleaseGrants } from "../image/release-grants.js";
import { parseEngines } from "./engines.js";
import { dayTwoRoutes } from "./routes/day-two.js";
import { createRemoval } from "./removal.js";
import { agentSecretRoutes, secretRoutes } from "./routes/secrets.js";
import { ensureSecretBox } from "../secrets/secret-box.js";
import { createSecretService } from "../secrets/secret-service.js";
import { createEventHub, type EventHub } from "./event-hub.js";
import { publishAudit, startLiveEvents } from "./live-events.js";
import { createControlPlaneMetrics } from "./metrics/control-plane-metrics.js";
import { createRequestCountRecorder } from "./request-counts.js";
import { createOpsApi } from "../ops/ops-api.js";

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

/**
 * The composition root of `strata server`: builds every real part and starts
 * listening. Parts are built in dependency order (compose/: state, data plane,
 * schedulers, HTTP), so no part is handed another before it exists; the one
 * value known late is the API's URL, read by launches after it listens.
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const imageConfig = parseImageConfig(config.sections, process.cwd());
  const forecastConfig = parseForecastConfig(config.sections);
  const engines = parseEngines(config.sections);
  const state = await openState(config, engines, clock);
  const { dataDir, store, cluster } = state;

  const events = createEventHub({ clock });
  const requestCounts = createRequestCountRecorder({
    groups: store.groups,
    traffic: store.traffic,
  });
  const balancer = await openBalancer(config, dataDir, (counts) => {
    requestCounts.record(counts);
    events.publish("traffic", { group: counts.group });
    options.onRequestCounts?.(counts);
  });
  const metrics = createControlPlaneMetrics({
    store,
    version: VERSION,
    balancerTotals: () => balancer.totals(),
  });
  const audit = async (action: string, subject: string, detail: Record<string, unknown> = {}) => {
    const entry = { at: clock.now(), actor: currentActor(), action, subject, detail };
    await store.audit.append(entry);
    publishAudit(events, entry);
    metrics.audit(action, detail);
  };
  const planningClock = options.planningClock ?? clock;
  const openstack = config.settings["provider.openstack"];
  let url = "";
  // A builder reaches the control plane where the provider's servers do.
  const grants = createReleaseGrants({
    secret: state.adminToken,
    baseUrl: () => openstack?.server_url ?? url,
    clock,
    baking: async (image) => (await store.images.get(image))?.state === "saving",
    // Issued only by bakes, after the TLS material below is ready.
    ca: () => tls?.ca,
  });
  const { localImages, images, forecasts } = await createPlanning({
    state,
    grants,
    ...(openstack ? { openstack } : {}),
    imageConfig,
    forecastConfig,
    clock,
    planningClock,
    audit,
  });
  const tls = await prepareTls(config, dataDir);
  const { provider, fleet, fleetOps, ensurePool } = await createDataPlane({
    config,
    state,
    balancer,
    clock,
    audit,
    ...(options.agentEnv ? { agentEnv: options.agentEnv } : {}),
    localImages,
    imageFor: (group) => images.imageFor(group),
    agent: () => ({ server: url, ...(tls ? { ca: tls.ca } : {}) }),
    onReceived: (server, report) => metrics.report(server, report),
  });
  const deployer = new Deployer({
    store,
    coordinator: state.coordinator,
    fleet,
    clock,
    audit,
    serverTimeoutMs: config.serverTimeoutMs,
    ...(options.stageFirst === false ? { stageFirst: false } : {}),
    onSucceeded: (deployment) => images.onDeploymentSucceeded(deployment),
    onWave: (_deployment, _wave, ok) => metrics.wave(ok),
  });
  const live = startLiveEvents({ hub: events, store, deployer });
  fleet.subscribeReports(live.onReport);
  fleet.subscribeReports((server, report) => deployer.onReport(server, report));
  const scale = createScaling({
    config,
    state,
    forecastConfig,
    planningClock,
    audit,
    fleetOps,
    images,
    forecasts,
  });
  const box = await ensureSecretBox(join(dataDir, "secrets-key"));
  const secrets = createSecretService({ store, box, clock, audit });
  const dayTwo = dayTwoRoutes({
    ...{ deployer, store, clock, heartbeatTimeoutMs: config.heartbeatTimeoutMs },
    removal: createRemoval({
      store,
      coordinator: state.coordinator,
      artifacts: state.artifacts,
      balancer,
      fleetOps,
      audit,
    }),
  });
  const ops = createOpsApi({
    store,
    fleet,
    channel: state.coordinator,
    audit,
    secrets: [state.adminToken, state.joinToken],
    section: config.settings.ops,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  });
  const api = createHttpApi({
    state,
    grants,
    routes: {
      admin: [ops.routes, dayTwo, secretRoutes({ secrets })],
      agent: [ops.agentRoutes, agentSecretRoutes({ secrets, fleet })],
    },
    clock,
    audit,
    balancer,
    fleet,
    fleetOps,
    deployer,
    images,
    forecasts,
    scale,
    events,
    metrics,
    ...(options.webDir ? { webDir: options.webDir } : {}),
  });
  const listening = await listenApi(api, config, dataDir, tls);
  const { http } = listening;
  url = listening.url;

  await images.start();
  for (const group of await store.groups.list()) await ensurePool(group.name);
  await adoptMembership(store, balancer);
  fleet.start();
  const stopSchedulers = await startSchedulers({
    config,
    state,
    forecastConfig,
    clock,
    audit,
    deployer,
    forecasts,
  });
  await provider.resume();
  await scale.start();
  await audit("server.start", "control-plane", { url });

  let closing: Promise<void> | null = null;
  return {
    url,
    adminToken: state.adminToken,
    ca: tls?.ca ?? null,
    joinToken: state.joinToken,
    dataDir,
    api,
    store,
    balancer,
    provider,
    deployer,
    fleet,
    fleetOps,
    artifacts: state.artifacts,
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
        await stopSchedulers();
        await images.close();
        await provider.close({ stopServers: stopDataPlane });
        await balancer.close({ stopDataPlane });
        await requestCounts.settle();
        await closeHttp(http);
        await audit("server.stop", "control-plane", {});
        await cluster?.close();
        await store.close();
        await rm(join(dataDir, "server.json"), { force: true });
      })()),
  };
}
