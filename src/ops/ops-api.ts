import type { Hono } from "hono";
import type { TaskChannel } from "../coord/coordinator.js";
import type { Fleet } from "../fleet/fleet.js";
import type { Store } from "../store/store.js";
import { opsSettings, type opsConfigSchema } from "./ops-config.js";
import { agentTaskRoutes, opsRoutes } from "./ops-routes.js";
import { createOpsService } from "./ops-service.js";
import { createTaskHub } from "./task-hub.js";
import type { z } from "zod";

export interface OpsApiOptions {
  store: Store;
  fleet: Fleet;
  /** Where tasks travel to the replica an agent polls (the Coordinator). */
  channel: TaskChannel;
  audit(action: string, subject: string, detail?: Record<string, unknown>): Promise<void>;
  /** The control plane's own secrets (admin token, join token), never let out in output. */
  secrets: string[];
  heartbeatTimeoutMs: number;
  /** The `ops:` section of strata.yaml. */
  section: z.infer<typeof opsConfigSchema> | undefined;
}

/**
 * `strata logs` and `strata exec` as the composition root mounts them:
 * `routes` under /v1 behind the API's token check, `agentRoutes` under
 * /v1/agents ahead of it (agents authenticate with their own token).
 */
export function createOpsApi(options: OpsApiOptions): { routes: Hono; agentRoutes: Hono } {
  const settings = opsSettings(options.section);
  const hub = createTaskHub({ channel: options.channel, idleTimeoutMs: settings.idleTimeoutMs });
  const ops = createOpsService({
    hub,
    servers: async (group) =>
      (await options.store.groups.get(group)) ? options.store.servers.list(group) : null,
    audit: options.audit,
    secrets: () => options.secrets,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs,
    maxExecOutputBytes: settings.maxExecOutputBytes,
  });
  return {
    routes: opsRoutes({ ops }),
    agentRoutes: agentTaskRoutes({
      hub,
      authenticate: (token) => options.fleet.authenticate(token),
    }),
  };
}
