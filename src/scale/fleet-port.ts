import type { FleetOps } from "../fleet/fleet-ops.js";
import type { Store } from "../store/store.js";
import type { FleetSnapshot, ScalePort } from "./executor.js";
import { chooseRetirees } from "./scale-in.js";

/** FleetOps validates at most this many servers per call. */
const MAX_PER_CALL = 250;

/** Options of {@link createFleetPort}. */
export interface FleetPortOptions {
  group: string;
  store: Store;
  fleetOps: FleetOps;
  /** The image `<group>:current` names; servers on any other go first on scale-in. */
  currentImage: () => Promise<string | null>;
}

/** The executor's port on the live fleet: launches through FleetOps.up, retires through FleetOps.retire (drain first). */
export function createFleetPort(options: FleetPortOptions): ScalePort {
  const { group, store, fleetOps } = options;
  let draining = 0;
  return {
    async snapshot(): Promise<FleetSnapshot> {
      const servers = await store.servers.list(group);
      const inService = servers.filter((s) => s.in_service).length;
      // Never in service yet: still on its way in. Out after serving: held out or unhealthy.
      const launching = servers.filter((s) => !s.in_service && s.in_service_at === null).length;
      const away = servers.filter(
        (s) => !s.in_service && s.in_service_at !== null && s.state !== "offline",
      ).length;
      return { inService, launching, away: Math.max(0, away - draining), draining };
    },
    async launch(count) {
      const live = (await store.servers.list(group)).length;
      await fleetOps.up(group, Math.min(MAX_PER_CALL, live + count));
    },
    async retire(count, reason) {
      const servers = await store.servers.list(group);
      const victims = chooseRetirees(
        servers.map((s) => ({
          name: s.name,
          inService: s.in_service,
          image: s.image,
          launchedAt: s.launched_at,
        })),
        Math.min(count, MAX_PER_CALL),
        await options.currentImage(),
      ).map((s) => s.name);
      draining += victims.length;
      try {
        return await fleetOps.retire(group, victims, `scale: ${reason}`);
      } finally {
        draining -= victims.length;
      }
    },
  };
}
