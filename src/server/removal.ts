import type { Balancer } from "../balancer/balancer.js";
import type { Coordinator } from "../coord/coordinator.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { FleetOps } from "../fleet/fleet-ops.js";
import { StrataError } from "../lib/errors.js";
import type { Store } from "../store/store.js";
import type { Release } from "../wire/release.js";

export interface RemovalOptions {
  store: Store;
  coordinator: Coordinator;
  artifacts: ArtifactStore;
  balancer: Balancer;
  fleetOps: FleetOps;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
}

/** `strata group rm`, `strata release rm`, `strata app rm`: each refuses what is still in use. */
export interface Removal {
  /**
   * Removes a group: its balancer listener, image channel, maintenance lock, its servers'
   * desired state and its record. Refused while a deployment of it runs, and while servers
   * run unless `force` (which terminates them, drained first). Returns the servers
   * terminated. The record goes last: a run cut short is finished by running it again.
   */
  removeGroup(group: string, force: boolean): Promise<string[]>;
  /** Removes app@version and, when no other release shares its bytes, its artifact. */
  removeRelease(app: string, version: string): Promise<Release>;
  /**
   * Removes an app no group runs: its traffic and forecasts, then every release (each as
   * removeRelease checks) and secret. Its releases or secrets go last, so a run cut short
   * still finds the app and finishes.
   */
  removeApp(app: string): Promise<{ releases: string[] }>;
}

const conflict = (message: string) => new StrataError("conflict", message);

export function createRemoval(options: RemovalOptions): Removal {
  const { store, coordinator, artifacts, balancer, fleetOps, audit } = options;

  async function running(filter: { group?: string; app?: string }) {
    return (await store.deployments.list({ ...filter, limit: 1000 })).filter(
      (d) => d.state === "running",
    );
  }

  /** Why the release cannot go, or null. */
  async function inUse(release: Release): Promise<string | null> {
    const { id } = release;
    const name = `${release.app}@${release.version}`;
    for (const server of await store.servers.list()) {
      if (server.current_release === id) return `${name} runs on ${server.name}`;
      const desired = await coordinator.desired(server.name);
      if (desired.release?.id === id || desired.stage?.id === id)
        return `${name} is desired on ${server.name}`;
    }
    for (const group of await store.groups.list()) {
      if (group.desired_release === id)
        return `${name} is the desired release of group ${group.name}`;
      if (group.previous_release === id)
        return `${name} is the rollback target of group ${group.name}`;
    }
    const images = await store.images.list({ states: ["queued", "saving", "active"] });
    const image = images.find((i) => i.release === id);
    if (image) return `${name} is the base of image ${image.id} (\`strata images gc\` first)`;
    if ((await running({ app: release.app })).some((d) => d.release === id))
      return `${name} is being deployed`;
    return null;
  }

  async function forget(release: Release): Promise<void> {
    await store.releases.delete(release.app, release.version);
    const shared = (await store.releases.list()).some((r) => r.id === release.id);
    if (!shared) await artifacts.delete(release.id);
    await audit("release.rm", `${release.app}@${release.version}`, { release: release.id });
  }

  return {
    async removeGroup(group, force) {
      if (!(await store.groups.get(group)))
        throw new StrataError("not_found", `[server] no group ${group}`);
      const open = await running({ group });
      if (open.length > 0) {
        throw conflict(
          `[server] group ${group}: deployment ${open[0]!.id} is running (\`strata deployments cancel ${open[0]!.id}\` first)`,
        );
      }
      const servers = (await store.servers.list(group)).filter((s) => s.state !== "terminated");
      if (servers.length > 0 && !force) {
        const names = servers.map((s) => s.name).join(", ");
        throw conflict(`[server] group ${group}: servers run (${names}); --force terminates them`);
      }
      // Regression: the desired state of the servers it terminated outlived the group.
      // Forgotten before they terminate too: a rerun after a crash in between (they are no
      // longer listed then) has nothing left to find.
      const names = servers.map((s) => s.name);
      await coordinator.forget(names);
      const terminated = servers.length > 0 ? await fleetOps.down(group) : [];
      await coordinator.forget([...new Set([...names, ...terminated])]);
      await balancer.removePool(group);
      await store.images.deleteChannel(`${group}:current`);
      const lock = `maintenance/${group}`;
      const owner = await coordinator.lockOwner(lock);
      if (owner) await coordinator.releaseLock(lock, owner);
      await store.groups.delete(group);
      await audit("group.rm", group, { terminated, force });
      return terminated;
    },

    async removeRelease(app, version) {
      const release = await store.releases.get(app, version);
      if (!release) throw new StrataError("not_found", `[server] no release ${app}@${version}`);
      const why = await inUse(release);
      if (why) throw conflict(`[server] release rm: ${why}`);
      await forget(release);
      return release;
    },

    async removeApp(app) {
      const groups = (await store.groups.list()).filter((g) => g.app === app);
      if (groups.length > 0) {
        const names = groups.map((g) => g.name).join(", ");
        throw conflict(
          `[server] app rm: groups run ${app} (${names}); \`strata group rm\` them first`,
        );
      }
      const releases = await store.releases.list(app);
      for (const release of releases) {
        const why = await inUse(release);
        if (why) throw conflict(`[server] app rm: ${why}`);
      }
      const secrets = (await store.secrets.list(app)).length;
      // Regression: the app's traffic and forecasts outlived it. Regression too: an app with
      // only traffic or forecasts (ingested before any build) was "no app" and kept them.
      const traffic = await store.traffic.deleteApp(app);
      const forecasts = await store.forecasts.deleteApp(app);
      if (releases.length === 0 && secrets === 0 && !traffic && !forecasts)
        throw new StrataError("not_found", `[server] no app ${app}`);
      for (const release of releases) await forget(release);
      await store.secrets.deleteApp(app);
      await audit("app.rm", app, { releases: releases.length });
      return { releases: releases.map((r) => `${r.app}@${r.version}`) };
    },
  };
}
