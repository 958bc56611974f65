import { Hono } from "hono";
import { z } from "zod";
import type { Fleet } from "../../fleet/fleet.js";
import { hashToken, newToken } from "../../fleet/tokens.js";
import { isoTime, type Clock } from "../../lib/clock.js";
import { StrataError } from "../../lib/errors.js";
import type { Store } from "../../store/store.js";
import { currentActor } from "../access.js";
import { groupName, ipAddress, serverName } from "../../wire/names.js";
import { RotateAgentTokensSchema, type RotateAgentTokensView } from "../../wire/tokens.js";
import { readJson, readParams } from "../validate.js";

/** Body of `POST /v1/tokens/join`: a single-use join token for one server started by hand. */
export const IssueJoinTokenSchema = z.strictObject({
  name: serverName,
  group: groupName,
  /** When given, a join from any other address is refused. */
  address: ipAddress.optional(),
});

const ServerParams = z.object({ server: serverName });
const TOKEN_NAME = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,40}$/, "must be lowercase letters, digits and dashes");
const NameParams = z.object({ name: TOKEN_NAME });

/** Body of `POST /v1/tokens`: a token for a person or a script, with its role. */
export const CreateTokenSchema = z.strictObject({
  name: TOKEN_NAME,
  role: z.enum(["admin", "deployer", "viewer"]),
});

/**
 * Tokens: API tokens by role (create, list, revoke), single-use join tokens
 * for servers started by hand, and revocation of agent tokens. Admin only.
 */
export function tokenRoutes(deps: { fleet: Fleet; store: Store; clock: Clock }): Hono {
  const { fleet, store, clock } = deps;
  const app = new Hono();

  app.post("/tokens", async (c) => {
    const { name, role } = await readJson(c, CreateTokenSchema, "create token");
    const token = newToken();
    await store.tokens.insert({
      name,
      role,
      token_hash: hashToken(token),
      created_at: clock.now(),
      revoked_at: null,
    });
    await store.audit.append({
      at: clock.now(),
      actor: currentActor(),
      action: "token.create",
      subject: name,
      detail: { role },
    });
    return c.json({ name, role, token }, 201);
  });

  app.get("/tokens", async (c) =>
    c.json({
      tokens: (await store.tokens.list()).map((t) => ({
        name: t.name,
        role: t.role,
        created_at: isoTime(t.created_at),
        revoked_at: t.revoked_at === null ? null : isoTime(t.revoked_at),
      })),
    }),
  );

  app.delete("/tokens/:name", async (c) => {
    const { name } = readParams(c, NameParams, "revoke token");
    if (!(await store.tokens.revoke(name, clock.now())))
      throw new StrataError("not_found", `[server] no unrevoked token named ${name}`);
    await store.audit.append({
      at: clock.now(),
      actor: currentActor(),
      action: "token.revoke",
      subject: name,
      detail: {},
    });
    return c.json({ name, revoked: true });
  });

  app.post("/tokens/join", async (c) => {
    const grant = await readJson(c, IssueJoinTokenSchema, "issue join token");
    const token = await fleet.issueJoinToken({
      name: grant.name,
      group: grant.group,
      ...(grant.address ? { address: grant.address } : {}),
    });
    return c.json({ server: grant.name, group: grant.group, join_token: token }, 201);
  });

  app.post("/tokens/agents/rotate", async (c) => {
    const target = await readJson(c, RotateAgentTokensSchema, "rotate agent tokens");
    return c.json({ servers: await fleet.requestRotation(target) } satisfies RotateAgentTokensView);
  });

  app.delete("/tokens/agents/:server", async (c) => {
    const { server } = readParams(c, ServerParams, "revoke token");
    await fleet.revoke(server);
    return c.json({ server, revoked: true });
  });

  return app;
}
