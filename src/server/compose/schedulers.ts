import { join } from "node:path";
import type { ServerConfig } from "../../config/server-config.js";
import { replicaId } from "../../coord/etcd/etcd-coordinator.js";
import type { Deployer } from "../../deploy/deployer.js";
import type { FleetOps } from "../../fleet/fleet-ops.js";
import type { ForecastConfig } from "../../forecast/service/forecast-config.js";
import {
  createForecastService,
  type AuditFn,
  type ForecastService,
} from "../../forecast/service/forecast-service.js";
import { appsToForecast, createForecastScheduler } from "../../forecast/service/scheduler.js";
import type { ImageConfig } from "../../image/image-config.js";
import { createConfiguredImageStore } from "../../image/glance/create-image-store.js";
import { createImageService, type ImageService } from "../../image/image-service.js";
import type { ReleaseGrants } from "../../image/release-grants.js";
import {
  createLocalImageStore,
  type LocalImageStore,
} from "../../image/local/local-image-store.js";
import type { Clock } from "../../lib/clock.js";
import type { OpenStackProviderConfig } from "../../provider/provider-config.js";
import type { ScaleMode } from "../../scale/executor.js";
import { createFleetPort } from "../../scale/fleet-port.js";
import { createForecasterScore, createLiveInputs } from "../../scale/live-inputs.js";
import { parseScalingConfig } from "../../scale/scale-config.js";
import { createScaleService, type ScaleService } from "../../scale/scale-service.js";
import { leadSchedulers } from "../engines.js";
import type { ControlPlaneState } from "./state.js";

export interface PlanningOptions {
  state: ControlPlaneState;
  imageConfig: ImageConfig;
  forecastConfig: ForecastConfig;
  clock: Clock;
  /** Clock of forecasts (and scaling): the demo's replay compresses a day. */
  planningClock: Clock;
  audit: AuditFn;
  /** Bakes go through Nova into Glance when set; else images are local folders. */
  openstack?: OpenStackProviderConfig;
  /** Credentials that let a bake's builder fetch its release (Glance bakes). */
  grants?: ReleaseGrants;
}

export interface Planning {
  localImages: LocalImageStore;
  /** The bake queue and the channel new servers launch from. */
  images: ImageService;
  forecasts: ForecastService;
}

/** Bakes and forecasts; made before the data plane, which asks them which image a launch boots. */
export async function createPlanning(options: PlanningOptions): Promise<Planning> {
  const { state, imageConfig, forecastConfig, clock, planningClock, audit } = options;
  const { dataDir, store, artifacts } = state;
  const localImages = createLocalImageStore({ dir: join(dataDir, "images"), clock });
  const images = createImageService({
    store,
    images: await createConfiguredImageStore(options.openstack, localImages),
    artifacts,
    config: imageConfig,
    clock,
    audit,
    ...(options.grants ? { grants: options.grants } : {}),
  });
  const { traffic, forecasts: forecastRepo } = store;
  const forecasts = createForecastService({
    traffic,
    repo: forecastRepo,
    config: forecastConfig,
    clock: planningClock,
    audit,
  });
  return { localImages, images, forecasts };
}

export interface ScalingOptions {
  config: ServerConfig;
  state: ControlPlaneState;
  forecastConfig: ForecastConfig;
  planningClock: Clock;
  audit: AuditFn;
  fleetOps: FleetOps;
  images: ImageService;
  forecasts: ForecastService;
}

/** Every configured group's scaling executor, acting through the fleet. */
export function createScaling(options: ScalingOptions): ScaleService {
  const { config, forecastConfig, planningClock, audit, fleetOps, images, forecasts } = options;
  const { store } = options.state;
  return createScaleService({
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
}

export interface SchedulersOptions {
  config: ServerConfig;
  state: ControlPlaneState;
  forecastConfig: ForecastConfig;
  clock: Clock;
  audit: AuditFn;
  deployer: Deployer;
  forecasts: ForecastService;
}

/**
 * Resumes deployments a crash left running and starts the daily forecasts.
 * With several replicas one leads the schedulers and takes over orphaned
 * deployments. Returns the function that stops them.
 */
export async function startSchedulers(options: SchedulersOptions): Promise<() => Promise<void>> {
  const { config, forecastConfig, clock, audit, deployer, forecasts } = options;
  const { store, cluster } = options.state;
  const forecastRepo = store.forecasts;
  // After the membership reset: a resumed wave's service-in must not be undone by it. With several
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
  return async () => {
    await leading?.stop();
    await dailyForecasts.stop();
  };
}
