import { z } from "zod";
import { namedSchema } from "../lib/named-config.js";

/** `balancer.local`: the built-in HTTP proxy, one listener per group. */
export const localBalancerConfigSchema = z.strictObject({
  /** Loopback address the listeners bind. @default "127.0.0.1" */
  host: z.string().min(1).default("127.0.0.1"),
});

/** `balancer.octavia`: pool members of an existing Octavia load balancer. */
export const octaviaBalancerConfigSchema = z.strictObject({
  /** Cloud name in clouds.yaml; the provider's cloud (or OS_CLOUD) when absent. */
  cloud: z.string().min(1).optional().meta({
    description: "Cloud name in clouds.yaml; the provider's cloud (or OS_CLOUD) when absent.",
  }),
  /** Load balancer name or id; it must exist. */
  loadbalancer: z.string().min(1).meta({ description: "Load balancer name or id; it must exist." }),
  /**
   * Pool name or id of a group's members; `{group}` is replaced by the group.
   * A missing pool is created with an HTTP listener in front of it.
   * @default "strata-{group}"
   */
  pool: z.string().min(1).default("strata-{group}").meta({
    description:
      'Pool name or id of a group\'s members; `{group}` is replaced by the group. A missing pool is created with an HTTP listener in front of it. (default "strata-{group}")',
  }),
  /** Port the servers' app listens on. @default 8080 */
  member_port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .default(8080)
    .meta({ description: "Port the servers' app listens on. (default 8080)" }),
});

const named = namedSchema("balancer", {
  local: localBalancerConfigSchema,
  octavia: octaviaBalancerConfigSchema,
});

/**
 * `balancer:` in strata.yaml: exactly one implementation by name. The older
 * form `balancer: { host }` still means the local balancer on that host.
 */
export const balancerConfigSchema = z
  .unknown()
  .transform((value) =>
    typeof value === "object" &&
    value !== null &&
    "host" in value &&
    Object.keys(value).length === 1
      ? { local: value }
      : value,
  )
  .pipe(named);

export type BalancerConfig = z.output<typeof balancerConfigSchema>;
export type OctaviaBalancerConfig = z.output<typeof octaviaBalancerConfigSchema>;
