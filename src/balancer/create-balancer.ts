import { ConfigError } from "../lib/errors.js";
import { createOpenStackClient } from "../lib/openstack/client.js";
import { findCloud, type Cloud } from "../lib/openstack/clouds.js";
import type { BalancerConfig } from "./balancer-config.js";
import type { Balancer, RequestCount } from "./balancer.js";
import { createLocalBalancer } from "./local/local-balancer.js";
import { createOctaviaBalancer } from "./octavia/octavia-balancer.js";

export interface CreateBalancerDeps {
  /** Local balancer only: receives per-minute request counts (Octavia has no per-request feed). */
  onCounts?: (counts: RequestCount) => void;
  /** Cloud when `balancer.octavia.cloud` is absent (the provider's). */
  defaultCloud?: string;
  /** @default findCloud (openstacksdk's search order) */
  findCloud?: (name: string | undefined) => Promise<Cloud>;
  /** Longest drain when a caller gives none. */
  drainMs?: number;
}

/** The balancer strata.yaml names; an unknown name is a ConfigError naming the known ones. */
export async function createBalancer(
  config: BalancerConfig,
  deps: CreateBalancerDeps = {},
): Promise<Balancer> {
  if ("local" in config)
    return createLocalBalancer({
      host: config.local.host,
      ...(deps.onCounts ? { onCounts: deps.onCounts } : {}),
    });
  if ("octavia" in config) {
    const o = config.octavia;
    const name = o.cloud ?? deps.defaultCloud;
    const cloud = await (deps.findCloud ?? ((n) => findCloud(n ? { cloud: n } : {})))(name);
    return createOctaviaBalancer({
      client: createOpenStackClient({ cloud }),
      loadbalancer: o.loadbalancer,
      pool: o.pool,
      ...(deps.drainMs !== undefined ? { drainMs: deps.drainMs } : {}),
    });
  }
  const key = Object.keys(config as object)[0] ?? "(none)";
  throw new ConfigError(
    "balancer",
    `[config] balancer: unknown balancer "${key}" (expected local or octavia)`,
  );
}
