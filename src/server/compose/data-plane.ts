import { join } from "node:path";
import type { Balancer, RequestCount } from "../../balancer/balancer.js";
import { createBalancer } from "../../balancer/create-balancer.js";
import { createDaemonBalancer, type DaemonBalancer } from "../../balancer/local/daemon-client.js";
import type { ServerConfig } from "../../config/server-config.js";
import { Fleet } from "../../fleet/fleet.js";
import { FleetOps } from "../../fleet/fleet-ops.js";
import type { AuditFn } from "../../forecast/service/forecast-service.js";
import type { LocalImageStore } from "../../image/local/local-image-store.js";
import type { Clock } from "../../lib/clock.js";
import { createProvider } from "../../provider/create-provider.js";
import type { Provider } from "../../provider/provider.js";
import type { Store } from "../../store/store.js";
import type { AgentReport } from "../../wire/agent.js";
import type { ControlPlaneState } from "./state.js";

/**
 * The group balancers: the local daemon (it outlives the control plane and is
 * adopted at the next start), or Octavia. `onCounts` receives the daemon's
 * per-minute request counts.
 */
export async function openBalancer(
  config: ServerConfig,
  dataDir: string,
  onCounts: (counts: RequestCount) => void,
): Promise<DaemonBalancer> {
  const octavia = config.settings["balancer.octavia"];
  const openstackCloud = config.settings["provider.openstack"]?.cloud;
  return octavia
    ? withoutTotals(
        await createBalancer(
          { octavia },
          {
            drainMs: config.drainMs,
            ...(openstackCloud ? { defaultCloud: openstackCloud } : {}),
          },
        ),
      )
    : await createDaemonBalancer({ dir: dataDir, host: config.balancerHost, onCounts });
}

export interface DataPlaneOptions {
  config: ServerConfig;
  state: ControlPlaneState;
  balancer: Balancer;
  clock: Clock;
  audit: AuditFn;
  /** Extra environment for agents the local provider starts. */
  agentEnv?: Record<string, string>;
  /** Where the local provider's server roots are cloned from. */
  localImages: LocalImageStore;
  /** The image a new server of the group boots from. */
  imageFor: (group: string) => Promise<string | null>;
  /** Where agents find the control plane: known once the API listens, read at each launch. */
  agent: () => { server: string; ca?: string };
  /** The reports agents sent to this replica (per-replica metrics). */
  onReceived?: (server: string, report: AgentReport) => void;
}

export interface DataPlane {
  provider: Provider;
  fleet: Fleet;
  fleetOps: FleetOps;
  /** Ensures the group's balancer pool exists (and remembers its port). */
  ensurePool(name: string): Promise<void>;
}

/** The servers: the provider that launches them, the fleet that admits them, launch and terminate. */
export async function createDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  const { config, state, balancer, clock, audit } = options;
  const { dataDir, store, coordinator, joinToken, signer } = state;
  const ensurePool = async (name: string) => {
    const group = await store.groups.ensure(name);
    const pool = await balancer.ensurePool(name, { port: group.balancer_port ?? 0 });
    if (pool.port !== group.balancer_port)
      await store.groups.update(name, { balancer_port: pool.port });
  };
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock,
    clusterJoinToken: config.clusterJoinToken ? joinToken : null,
    signer,
    ensurePool,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    ...(state.cluster ? { membership: state.cluster } : {}),
    ...(options.onReceived ? { onReceived: options.onReceived } : {}),
    drainMs: config.drainMs,
    audit,
    tokenRotateAfterMs: config.settings.agent_tokens.rotate_after,
    tokenGraceMs: config.settings.agent_tokens.grace,
  });
  const openstack = config.settings["provider.openstack"];
  const provider = await createProvider(
    openstack ? { openstack } : { local: { address_prefix: config.addressPrefix } },
    {
      local: {
        dir: join(dataDir, "servers"),
        env: { STRATA_HEARTBEAT_MS: String(config.heartbeatMs), ...options.agentEnv },
        prepareRoot: async (image, root, how) =>
          void (await options.localImages.cloneRoot(image, root, how)),
      },
    },
  );
  const fleetOps = new FleetOps({
    store,
    fleet,
    provider,
    clock,
    audit,
    agent: options.agent,
    imageFor: options.imageFor,
  });
  return { provider, fleet, fleetOps, ensurePool };
}

/**
 * Membership lives in the balancer, which may have served on while no control plane ran:
 * what it has is what is in service. App health is refreshed by the next heartbeat.
 */
export async function adoptMembership(store: Store, balancer: Balancer): Promise<void> {
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
}

/** A balancer of another kind (Octavia) counts no requests of its own for /metrics. */
function withoutTotals(balancer: Balancer): DaemonBalancer {
  return Object.assign(balancer, { totals: async () => ({}) });
}
