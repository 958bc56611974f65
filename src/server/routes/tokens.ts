import { Hono } from "hono";
import { z } from "zod";
import type { Fleet } from "../../fleet/fleet.js";
import { groupName, ipAddress, serverName } from "../../wire/names.js";
import { readJson, readParams } from "../validate.js";

/** Body of `POST /v1/tokens/join`: a single-use join token for one server started by hand. */
export const IssueJoinTokenSchema = z.strictObject({
  name: serverName,
  group: groupName,
  /** When given, a join from any other address is refused. */
  address: ipAddress.optional(),
});

const ServerParams = z.object({ server: serverName });

/** Server identity: issue single-use join tokens, revoke agent tokens. Admin only (mounted behind admin auth). */
export function tokenRoutes(deps: { fleet: Fleet }): Hono {
  const { fleet } = deps;
  const app = new Hono();

  app.post("/tokens/join", async (c) => {
    const grant = await readJson(c, IssueJoinTokenSchema, "issue join token");
    const token = await fleet.issueJoinToken({
      name: grant.name,
      group: grant.group,
      ...(grant.address ? { address: grant.address } : {}),
    });
    return c.json({ server: grant.name, group: grant.group, join_token: token }, 201);
  });

  app.delete("/tokens/agents/:server", async (c) => {
    const { server } = readParams(c, ServerParams, "revoke token");
    await fleet.revoke(server);
    return c.json({ server, revoked: true });
  });

  return app;
}
