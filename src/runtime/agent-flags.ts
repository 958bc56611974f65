import { readFileSync } from "node:fs";
import { DEFAULT_APP_USER } from "../lib/app-user.js";
import { StrataError, messageOf } from "../lib/errors.js";

/**
 * The agent's flags (`parseArgs` options), shared by its early boot
 * (`early-boot.ts`, before the agent's own modules load) and `agent/main.ts`,
 * so both read the same command line.
 */
export const AGENT_OPTIONS = {
  server: { type: "string" },
  "join-token": { type: "string" },
  group: { type: "string" },
  root: { type: "string" },
  address: { type: "string", default: "127.0.0.1" },
  name: { type: "string" },
  "max-unpacked-size": { type: "string" },
  "app-user": { type: "string" },
  "ca-file": { type: "string" },
  "metrics-address": { type: "string" },
  verbose: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/**
 * Names the file descriptor on which the agent's launcher writes `ready` once
 * the server root is complete (the local provider starts the agent while it
 * clones the image into the root). Read by the agent's first process only.
 */
export const ROOT_READY_FD_ENV = "STRATA_ROOT_READY_FD";

/** The server's name: `--name`, else the root folder's own name. */
export function serverNameOf(name: string | undefined, root: string): string {
  return name ?? root.replace(/\/+$/, "").split("/").pop()!;
}

/** An IPv4 address as `--address` takes it. */
export const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The CA from `--ca-file`, else the PEM in `STRATA_CA`; throws `bad_request` naming the flag. */
export function caOf(file: string | undefined, pem: string | undefined): { ca?: string } {
  if (file) {
    try {
      return { ca: readFileSync(file, "utf8") };
    } catch (err) {
      throw new StrataError(
        "bad_request",
        `[agent] --ca-file: cannot read ${file}: ${messageOf(err)}`,
      );
    }
  }
  return pem ? { ca: pem } : {};
}

/** As root, apps run as an unprivileged account unless told `root`; otherwise as the agent. */
export function appUserOf(name: string | undefined): { appUser?: string } {
  if (process.getuid?.() !== 0 || name === "root") return {};
  return { appUser: name || DEFAULT_APP_USER };
}
