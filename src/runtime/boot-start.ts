import { writeFileSync } from "node:fs";
import { readFile, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import type { RunAs } from "../lib/app-user.js";
import { processAlive, stopOrphan } from "../lib/process.js";
import { readCurrent, readSwitchIntent } from "../lib/server-root.js";
import { traceBootEvent } from "./boot-trace.js";
import { isAppStopped, readCurrentApp } from "./current-app.js";
import { noteAppLog, spawnApp, type AppSpec } from "./supervisor.js";

// What a server's init does before its agent runs, and how the agent takes
// over what it started. On a VM the app is then a unit of its own in the image;
// the local provider does it as it launches a server from an image.

/** In the server root: the process group id of the app the server's boot started, for its agent. */
export const BOOT_APP_PID_FILE = "boot-app.pid";

export interface BootStartOptions {
  root: string;
  /** The server's address: the app listens on it (HOST). */
  address: string;
  /** The agent's environment: the app's is made from it, as the agent makes it. */
  env: NodeJS.ProcessEnv;
  /** The account the agent runs apps as; undefined: this process's. */
  runAs?: RunAs;
}

/**
 * Starts the app from `current` before the server's agent runs, as the
 * agent's boot would (its own process group, its output in app.log), and
 * leaves its pid in boot-app.pid for the agent to adopt: the app's start no
 * longer waits for a second node process to start. Starts nothing (null)
 * where the agent's boot would not start it either (no current, the app
 * stopped, a switch under way) or would have to parse strata.yaml first (no
 * current-app.json for `current`). Never starts it with secrets: the agent
 * restarts it with them once joined, as it does an app its own boot started.
 */
export async function startAtBoot(options: BootStartOptions): Promise<number | null> {
  const { root, runAs } = options;
  const current = await readCurrent(root);
  if (!current || (await isAppStopped(root)) || (await readSwitchIntent(root))) return null;
  const app = await readCurrentApp(root, current, options.address);
  if (!app) return null;
  const logFile = join(root, "app.log");
  const child = spawnApp(app, {
    logFile,
    secrets: {},
    baseEnv: options.env,
    ...(runAs && { runAs }),
  });
  child.on("error", () => undefined); // a start that fails leaves no pid: the agent starts it
  child.unref();
  if (!child.pid) return null;
  writeFileSync(join(root, BOOT_APP_PID_FILE), `${child.pid}\n`);
  traceBootEvent(root, options.env, "app_spawned");
  noteAppLog(
    logFile,
    Date.now(),
    `started ${current} (${app.version}) pid ${child.pid} at the server's boot`,
  );
  return child.pid;
}

/**
 * The pid of the app the server's boot started for `app`, for the supervisor
 * to adopt; null when there is none. One that runs something else (another
 * release, another account, a recycled pid) is stopped instead. Either way
 * boot-app.pid is gone afterwards.
 */
export async function takeBootApp(
  root: string,
  app: AppSpec,
  runAs: RunAs | undefined,
): Promise<number | null> {
  const file = join(root, BOOT_APP_PID_FILE);
  const pid = Number((await readFile(file, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) {
    await rm(file, { force: true });
    return null;
  }
  const [cwd, dir, uid] = await Promise.all([
    realpath(`/proc/${pid}/cwd`).catch(() => null),
    realpath(app.dir).catch(() => null),
    readFile(`/proc/${pid}/status`, "utf8").then(
      (status) => Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1]),
      () => null,
    ),
  ]);
  if (cwd !== null && cwd === dir && uid === (runAs?.uid ?? process.getuid?.())) {
    await rm(file, { force: true });
    return pid;
  }
  await stopBootApp(root);
  return null;
}

/** Stops the app the server's boot started, if one runs (the agent will not adopt it). Idempotent. */
export async function stopBootApp(root: string): Promise<boolean> {
  return stopOrphan(join(root, BOOT_APP_PID_FILE), root);
}
