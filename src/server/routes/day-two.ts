import { Hono } from "hono";
import { z } from "zod";
import type { Deployer } from "../../deploy/deployer.js";
import { APP_ACTIONS, AppActionRequestSchema } from "../../wire/deployment.js";
import { groupName } from "../../wire/names.js";
import { PreflightQuerySchema } from "../../wire/day-two.js";
import { checkGroup, type PreflightOptions } from "../preflight.js";
import type { Removal } from "../removal.js";
import { appName, version } from "../../wire/names.js";
import { readJson, readParams, readQuery } from "../validate.js";

const GroupParams = z.strictObject({ group: groupName });
const ForceQuery = z.strictObject({ force: z.enum(["true", "false"]).default("false") });
const AppParams = z.strictObject({ app: appName });
const ReleaseParams = z.strictObject({ app: appName, version });
const ActionParams = z.strictObject({ group: groupName, action: z.enum(APP_ACTIONS) });

/** Day-two operations on a group's app: restart, stop, start in waves (`strata app`). */
export function dayTwoRoutes(
  deps: { deployer: Deployer; removal: Removal } & PreflightOptions,
): Hono {
  const { deployer } = deps;
  const app = new Hono();

  app.post("/groups/:group/app/:action", async (c) => {
    const { group, action } = readParams(c, ActionParams, `app action`);
    const body = await readJson(c, AppActionRequestSchema.optional(), `app ${action}`);
    return c.json(await deployer.operate(group, action, body ?? {}), 202);
  });

  /** `strata check`: a pre-flight of the group before a deploy. */
  app.get("/groups/:group/check", async (c) => {
    const { group } = readParams(c, GroupParams, "check");
    const health = readQuery(c, PreflightQuerySchema, "check");
    return c.json(await checkGroup(deps, group, health));
  });

  app.delete("/groups/:group", async (c) => {
    const { group } = readParams(c, GroupParams, "group rm");
    const { force } = readQuery(c, ForceQuery, "group rm");
    const terminated = await deps.removal.removeGroup(group, force === "true");
    return c.json({ group, removed: true, terminated });
  });

  app.delete("/apps/:app/releases/:version", async (c) => {
    const { app: name, version: v } = readParams(c, ReleaseParams, "release rm");
    return c.json({ removed: await deps.removal.removeRelease(name, v) });
  });

  app.delete("/apps/:app", async (c) => {
    const { app: name } = readParams(c, AppParams, "app rm");
    return c.json({ app: name, removed: true, ...(await deps.removal.removeApp(name)) });
  });

  return app;
}
