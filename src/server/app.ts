import { Hono } from "hono";
import type { ReleaseSigner } from "../artifact/signing.js";
import type { ArtifactStore } from "../artifact/store.js";
import type { Balancer } from "../balancer/balancer.js";
import type { Coordinator } from "../coord/coordinator.js";
import type { Deployer } from "../deploy/deployer.js";
import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { Store } from "../store/store.js";
import type { Fleet } from "../fleet/fleet.js";
import type { FleetOps } from "../fleet/fleet-ops.js";
import { errorResponse } from "./http-errors.js";
import { agentRoutes, bearer } from "./routes/agents.js";
import { deploymentRoutes } from "./routes/deployments.js";
import { fleetRoutes } from "./routes/fleet.js";
import { releaseRoutes } from "./routes/releases.js";
import { tokenRoutes } from "./routes/tokens.js";
import { hashToken, sameSecret } from "../fleet/tokens.js";
import { allowed, runAs } from "./access.js";
import type { ReleaseGrants } from "../image/release-grants.js";

export interface ApiDeps {
  store: Store;
  coordinator: Coordinator;
  artifacts: ArtifactStore;
  balancer: Balancer;
  fleet: Fleet;
  fleetOps: FleetOps;
  deployer: Deployer;
  clock: Clock;
  adminToken: string;
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Further admin routes mounted under /v1 (traffic, forecasts, images). */
  extra?: Hono[];
  /** Routes under /v1/agents that check an agent's token themselves (ahead of admin auth). */
  agentExtra?: Hono[];
  /** Routes ahead of admin auth, at the root: the dashboard's files and its sign-in. */
  open?: Hono;
  /** Whether a Cookie header holds a dashboard session; a session may read (GET), never change. */
  readSession?: (cookie: string | undefined) => boolean;
  /** Signs release file manifests for agents (src/cas/); without it agents fetch whole tarballs. */
  signer?: ReleaseSigner;
  /** Bake builders' credentials: each reads one release's artifact while its image bakes. */
  grants?: Pick<ReleaseGrants, "check">;
}

/** What an agent's own token may call outside /v1/agents: its release's tarball or files. */
const AGENT_PATHS: Array<[string, RegExp]> = [
  ["GET", /^\/v1\/releases\/[^/]+\/(artifact|manifest)$/],
  ["POST", /^\/v1\/releases\/[^/]+\/pack$/],
];

/** The versioned HTTP API. Route handlers validate, call a service and map the result. */
export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.onError(errorResponse);
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `[server] no route ${c.req.method} ${c.req.path}` } },
      404,
    ),
  );

  app.get("/v1/health", (c) => c.json({ ok: true }));
  for (const extra of deps.agentExtra ?? []) app.route("/v1/agents", extra);
  app.route("/v1/agents", agentRoutes(deps));
  for (const extra of deps.agentExtra ?? []) app.route("/v1/agents", extra);
  if (deps.open) app.route("/", deps.open);

  // The bootstrap admin token, then API tokens by role; agents only fetch artifacts with theirs.
  app.use("/v1/*", async (c, next) => {
    const token = bearer(c.req.header("authorization"));
    if (token && sameSecret(token, deps.adminToken)) return runAs("admin", next);
    // A dashboard session (cookie) reads; it never writes.
    if (!token && c.req.method === "GET" && deps.readSession?.(c.req.header("cookie")))
      return runAs("dashboard", next);
    const record = token ? await deps.store.tokens.getByHash(hashToken(token)) : null;
    if (record) {
      if (!allowed(record.role, c.req.method, c.req.path)) {
        throw new StrataError(
          "forbidden",
          `[server] token ${record.name} (${record.role}) may not ${c.req.method} ${c.req.path}`,
        );
      }
      return runAs(`token:${record.name}`, next);
    }
    const grant = token ? await deps.grants?.check(token, c.req.method, c.req.path) : null;
    if (grant) return runAs(grant, next);
    if (
      token &&
      AGENT_PATHS.some(([method, path]) => c.req.method === method && path.test(c.req.path))
    ) {
      const server = await deps.fleet.authenticate(token);
      return runAs(`agent:${server.name}`, next);
    }
    throw new StrataError("unauthorized", "[server] missing, invalid or revoked token");
  });

  app.route("/v1/releases", releaseRoutes(deps));
  app.route("/v1", deploymentRoutes(deps));
  app.route("/v1", fleetRoutes(deps));
  app.route("/v1", tokenRoutes(deps));
  for (const extra of deps.extra ?? []) app.route("/v1", extra);
  return app;
}
