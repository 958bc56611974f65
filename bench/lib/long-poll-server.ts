import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLocalBalancer } from "../../src/balancer/local/local-balancer.js";
import type { Coordinator } from "../../src/coord/coordinator.js";
import {
  createLocalCoordinator,
  type LocalCoordinatorOptions,
} from "../../src/coord/local/local-coordinator.js";
import { systemClock } from "../../src/lib/clock.js";
import { describeRelease, Fleet } from "../../src/fleet/fleet.js";
import { errorResponse } from "../../src/server/http-errors.js";
import { agentRoutes } from "../../src/server/routes/agents.js";
import { createSqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import type { DesiredRelease } from "../../src/wire/agent.js";

export interface LongPollServerOptions {
  /** Folder for the SQLite file. */
  dir: string;
  /** Loopback address to listen on (port 0). */
  host: string;
  /** The coordinator under test. @default createLocalCoordinator */
  createCoordinator?: (options: LocalCoordinatorOptions) => Coordinator;
}

/**
 * The control plane's long-poll path alone: the real agent routes, Fleet authentication,
 * LocalCoordinator and SQLite store, without deployer, provider or schedulers. Lets a bench
 * change desired state straight through `coordinator.setDesired`.
 */
export interface LongPollServer {
  url: string;
  store: Store;
  coordinator: Coordinator;
  /** Joins servers `<prefix>-0..count-1` of `group`; returns their per-agent tokens. */
  join(count: number, group: string, prefix: string): Promise<string[]>;
  /** Stores a release so that desired state can name it. */
  addRelease(release: DesiredRelease): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

export async function startLongPollServer(options: LongPollServerOptions): Promise<LongPollServer> {
  const store = createSqliteStore({ path: join(options.dir, "long-poll.db") });
  const coordinator = (options.createCoordinator ?? createLocalCoordinator)({
    desired: store.desired,
    describeRelease: (id) => describeRelease(store, id),
  });
  const balancer = createLocalBalancer({ host: options.host });
  const joinToken = "bench-join-token";
  const fleet = new Fleet({
    store,
    coordinator,
    balancer,
    clock: systemClock,
    clusterJoinToken: joinToken,
    ensurePool: async (group) => void (await store.groups.ensure(group)),
    heartbeatTimeoutMs: 3_600_000,
    audit: async () => {},
  });
  const app = new Hono();
  app.onError(errorResponse);
  app.route("/v1/agents", agentRoutes({ fleet, coordinator }));
  const http = await new Promise<ServerType>((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: options.host, port: 0 }, () =>
      resolve(server),
    );
    server.once("error", reject);
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${options.host}:${port}`,
    store,
    coordinator,
    async join(count, group, prefix) {
      const tokens: string[] = [];
      for (let i = 0; i < count; i++) {
        const address = `${options.host.replace(/\.\d+$/, "")}.${(i % 250) + 2}`;
        const name = `${prefix}-${i}`;
        tokens.push((await fleet.join({ join_token: joinToken, name, group, address })).token);
      }
      return tokens;
    },
    async addRelease(release) {
      await store.releases.insert({
        id: release.id,
        app: release.app,
        version: release.version,
        size: release.size,
        file_count: 1,
        created_at: new Date().toISOString(),
      });
    },
    close: () =>
      (closing ??= (async () => {
        (http as ServerType & { closeAllConnections?: () => void }).closeAllConnections?.();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        await balancer.close();
        await store.close();
      })()),
  };
}
