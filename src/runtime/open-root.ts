import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { readCredentials } from "../fleet/agent-credentials.js";
import { canEnter, ensureAppUser, type RunAs } from "../lib/app-user.js";
import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import { stopOrphan } from "../lib/process.js";
import type { FetchSecretsOptions, SecretSource } from "./secrets.js";
import { createSupervisor, type Supervisor } from "./supervisor.js";

/** Where the agent's token lives: its control-plane client, or a stand-in until that exists. */
export interface TokenHolder {
  readonly token: string | null;
  setToken(token: string): void;
}

/** An opened root: the app's supervisor, the saved release key, the app's account. */
export interface OpenedRoot {
  supervisor: Supervisor;
  releaseKey: string | undefined;
  runAs?: RunAs;
}

/**
 * Prepares the root: folders, the saved token and key, the app user, no app
 * left over from a killed agent.
 */
export async function openRoot(
  config: { root: string; appUser?: string; server: string; ca?: string },
  client: TokenHolder,
  clock: Clock,
  log: (line: string) => void,
): Promise<OpenedRoot> {
  const { root } = config;
  await mkdir(join(root, "releases"), { recursive: true });
  const runAs = await appAccount(root, config.appUser, clock, log);
  const saved = await readCredentials(root);
  if (saved?.token) client.setToken(saved.token);
  const pidFile = join(root, "app.pid");
  if (await stopOrphan(pidFile, root)) log("[agent] stopped the app a previous agent left running");
  const logFile = join(root, "app.log");
  const secrets = lazySecrets({ ...config, token: () => client.token });
  const supervisorOptions = { logFile, pidFile, clock, secrets, ...(runAs && { runAs }) };
  const supervisor = createSupervisor(supervisorOptions);
  return { supervisor, releaseKey: saved?.release_key, ...(runAs ? { runAs } : {}) };
}

/**
 * The account apps of `root` run as: `appUser` (made if missing), unless it
 * cannot reach the root; undefined: as this process.
 */
export async function appAccount(
  root: string,
  appUser: string | undefined,
  clock: Clock,
  log: (line: string) => void,
): Promise<RunAs | undefined> {
  if (!appUser) return undefined;
  const runAs = await ensureAppUser(appUser, clock);
  await chmod(root, 0o711); // the app user may pass through to its release, not list the root
  if (canEnter(runAs, root)) return runAs;
  log(`[agent] ${runAs.name} cannot reach ${root} (a parent folder is closed): apps run as root`);
  return undefined;
}

/**
 * `fetchSecrets`, its module (and undici's, for a pinned CA) loaded at the
 * first ask with a token: the early boot's app start, before the agent has
 * joined, asks without one and should not wait for that load.
 */
function lazySecrets(options: FetchSecretsOptions): SecretSource {
  let source: Promise<SecretSource> | null = null;
  return async () => {
    if (!options.token()) throw new StrataError("unauthorized", "[agent] secrets: not joined yet");
    source ??= import("./secrets.js").then(({ fetchSecrets }) => fetchSecrets(options));
    return (await source)();
  };
}
