import { z } from "zod";

/**
 * The naming rules of the API, in one place: every route, the config and
 * the fleet use these, so a name one part accepts is never refused by another.
 */

/** A group: lowercase letters, digits and dashes, starting with a letter; it names balancer pools and images. */
export const GROUP_NAME = /^[a-z][a-z0-9-]{0,30}$/;
/** An app: lowercase letters, digits, `.`, `_`, `-`. */
export const APP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** A version as `strata build --version` takes it. */
export const VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;
/** A server: like a group name, longer (`web-12`); it becomes a folder name, so no `/` or `..`. */
export const SERVER_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const RELEASE_ID = /^sha256:[0-9a-f]{64}$/;

export const groupName = z
  .string()
  .regex(GROUP_NAME, "must be lowercase letters, digits and dashes, starting with a letter");
export const appName = z.string().regex(APP_NAME, "must be lowercase letters, digits, . _ -");
export const version = z.string().regex(VERSION, "is not a valid version");
export const serverName = z
  .string()
  .regex(SERVER_NAME, "must be lowercase letters, digits and dashes, starting with a letter");
export const releaseId = z.string().regex(RELEASE_ID, "expected sha256:<64 hex digits>");
export const port = z.number().int().min(1).max(65_535);
export const ipAddress = z.union([z.ipv4(), z.ipv6()], { error: "expected an IP address" });

export function isGroupName(value: unknown): value is string {
  return typeof value === "string" && GROUP_NAME.test(value);
}
