import { AsyncLocalStorage } from "node:async_hooks";
import type { Role } from "../store/store.js";

/**
 * Who is calling, for the audit log: set once per request by the auth
 * middleware and read by `audit()` wherever the request's work goes.
 */
const caller = new AsyncLocalStorage<string>();

export function runAs<T>(actor: string, work: () => T): T {
  return caller.run(actor, work);
}

/** The actor of the current request, or the control plane itself for its own schedules. */
export function currentActor(): string {
  return caller.getStore() ?? "control-plane";
}

/**
 * What each role may do. viewer: read. deployer: read, upload releases,
 * deploy and roll back, bake. admin: everything (fleet, tokens, images GC...).
 */
const DEPLOYER_WRITES = [
  /^POST \/v1\/releases$/,
  /^POST \/v1\/deployments$/,
  /^POST \/v1\/rollbacks$/,
  /^POST \/v1\/images\/bakes$/,
  // Restarting or starting the app is part of shipping it; stopping it is an admin's call.
  /^POST \/v1\/groups\/[^/]+\/app\/(restart|start)$/,
];

export function allowed(role: Role, method: string, path: string): boolean {
  if (role === "admin") return true;
  if (method === "GET" || method === "HEAD") return !path.startsWith("/v1/tokens");
  if (role === "viewer") return false;
  const request = `${method} ${path.replace(/\/+$/, "")}`;
  return DEPLOYER_WRITES.some((rule) => rule.test(request));
}
