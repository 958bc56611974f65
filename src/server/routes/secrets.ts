import { Hono } from "hono";
import type { Fleet } from "../../fleet/fleet.js";
import type { SecretService } from "../../secrets/secret-service.js";
import {
  AppParamsSchema,
  SecretParamsSchema,
  SecretValueSchema,
  type AgentSecrets,
} from "../../wire/secrets.js";
import { BODY_LIMIT, readJson, readParams } from "../validate.js";
import { bearer } from "./agents.js";

/** `strata secrets`: set and remove (admin), list names (any reader); values never come back. */
export function secretRoutes(deps: { secrets: SecretService }): Hono {
  const { secrets } = deps;
  const app = new Hono();

  app.get("/apps/:app/secrets", async (c) => {
    const { app: name } = readParams(c, AppParamsSchema, "secrets");
    return c.json(await secrets.list(name));
  });

  app.put("/apps/:app/secrets/:key", async (c) => {
    const { app: name, key } = readParams(c, SecretParamsSchema, "secret");
    // A value may be up to 64 KiB; its JSON escaping may take more.
    const { value } = await readJson(c, SecretValueSchema, "secret", BODY_LIMIT.report);
    return c.json(await secrets.set(name, key, value), 201);
  });

  app.delete("/apps/:app/secrets/:key", async (c) => {
    const { app: name, key } = readParams(c, SecretParamsSchema, "secret");
    await secrets.remove(name, key);
    return c.body(null, 204);
  });

  return app;
}

/** `GET /v1/agents/secrets`: an agent's app environment, with the agent's own token only. */
export function agentSecretRoutes(deps: { secrets: SecretService; fleet: Fleet }): Hono {
  const app = new Hono();
  app.get("/secrets", async (c) => {
    const server = await deps.fleet.authenticate(bearer(c.req.header("authorization")));
    const body: AgentSecrets = { env: await deps.secrets.forServer(server) };
    c.header("cache-control", "no-store");
    return c.json(body);
  });
  return app;
}
