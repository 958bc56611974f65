import { z } from "zod";
import { durationMs, oneOf } from "../lib/config-section.js";
import type { Cluster, Coordinator } from "./coordinator.js";
import { createEtcdCoordinator } from "./etcd/etcd-coordinator.js";

/**
 * The `coordination` section of strata.yaml: desired state, locks, leader
 * election and membership.
 *
 * ```yaml
 * coordination: embedded                         # the default: one control plane
 * coordination:
 *   etcd:
 *     endpoints: [http://10.0.0.5:2379, http://10.0.0.6:2379]
 *     prefix: /strata                            # @default /strata
 *     lease_ttl: 10s                             # takeover delay after a replica dies @default 10s
 * ```
 */
export const CoordinationConfigSchema = oneOf(
  {
    embedded: z.strictObject({}),
    etcd: z.strictObject({
      endpoints: z
        .array(z.url({ protocol: /^https?$/, error: "expected an http(s):// URL" }))
        .min(1),
      prefix: z
        .string()
        .regex(/^\/[\w./-]*$/, "expected a key prefix starting with /")
        .optional(),
      lease_ttl: durationMs().optional(),
    }),
  },
  ["embedded"],
);
export type CoordinationConfig = z.infer<typeof CoordinationConfigSchema>;

/**
 * The etcd coordinator the config names, or null for the embedded one (which
 * the control plane builds over its store).
 */
export async function createConfiguredCoordinator(
  config: CoordinationConfig | undefined,
): Promise<(Coordinator & Cluster & { close(): Promise<void> }) | null> {
  if (!config?.etcd) return null;
  return createEtcdCoordinator({
    endpoints: config.etcd.endpoints,
    ...(config.etcd.prefix ? { prefix: config.etcd.prefix } : {}),
    ...(config.etcd.lease_ttl ? { leaseTtlMs: config.etcd.lease_ttl } : {}),
  });
}
