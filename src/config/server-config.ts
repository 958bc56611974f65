import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { ConfigError, messageOf } from "../lib/errors.js";
import { parseDuration } from "./app-definition.js";
import { balancerConfigSchema, type BalancerConfig } from "../balancer/balancer-config.js";
import { parseSection } from "../lib/named-config.js";
import { providerConfigSchema, type ProviderConfig } from "../provider/provider-config.js";

/**
 * The control plane's configuration: `strata.yaml` in the working folder (or
 * `--config` / STRATA_CONFIG). Every key is optional; the embedded defaults run
 * everything in one process. Precedence: flags > env > file > defaults.
 */
export interface ServerConfig {
  /** Where state, artifacts, tokens and local servers live. @default ".strata" */
  readonly dataDir: string;
  /** `host:port` of the HTTP API. @default "127.0.0.1:7700" */
  readonly listen: { readonly host: string; readonly port: number };
  /** First three octets of local servers' addresses. @default "127.0.0" */
  readonly addressPrefix: string;
  /** Loopback address of the built-in load balancer listeners. @default "127.0.0.1" */
  readonly balancerHost: string;
  /** `provider:`, one implementation by name (src/provider/provider-config.ts). @default { local: {} } */
  readonly provider: ProviderConfig;
  /** `balancer:`, one by name; `{ host }` is the older form of `{ local: { host } }`. @default { local: {} } */
  readonly balancer: BalancerConfig;
  /** @default 15000 */
  readonly heartbeatTimeoutMs: number;
  /** Agents' heartbeat interval (local provider). @default 5000 */
  readonly heartbeatMs: number;
  /** Longest wait for one server in a deployment wave. @default 600000 */
  readonly serverTimeoutMs: number;
  /** Longest drain of in-flight requests when a server leaves the balancer. @default 10000 */
  readonly drainMs: number;
  /** Sections owned by other parts (forecast, groups, images), validated by them. */
  readonly sections: Readonly<Record<string, unknown>>;
}

const KEYS = [
  "data_dir",
  "listen",
  "provider",
  "balancer",
  "heartbeat_timeout",
  "heartbeat_interval",
  "deploy",
];
const SECTIONS = ["forecast", "groups", "images", "scale"];

export interface ServerConfigInput {
  /** Path of the YAML file; a missing default file is fine, a missing named one is an error. */
  file?: string;
  /** Flags, highest precedence. */
  flags?: { dataDir?: string; listen?: string };
  env?: NodeJS.ProcessEnv;
}

export async function loadServerConfig(input: ServerConfigInput = {}): Promise<ServerConfig> {
  const env = input.env ?? process.env;
  const named = input.file ?? env.STRATA_CONFIG;
  const path = named ?? "strata.yaml";
  let text: string | null = null;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (named || (err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError("config", `[config] ${path}: cannot read: ${messageOf(err)}`, {
        cause: err,
      });
    }
  }
  return parseServerConfig(text ?? "", path, {
    ...(env.STRATA_DATA_DIR ? { dataDir: env.STRATA_DATA_DIR } : {}),
    ...(env.STRATA_LISTEN ? { listen: env.STRATA_LISTEN } : {}),
    ...input.flags,
  });
}

/** Validates the whole document before anything uses it: an invalid config never half-applies. */
export function parseServerConfig(
  text: string,
  source: string,
  overrides: { dataDir?: string; listen?: string } = {},
): ServerConfig {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(key, `[config] ${source}: ${key}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = parse(text) ?? {};
  } catch (err) {
    throw new ConfigError("config", `[config] ${source}: not valid YAML: ${messageOf(err)}`, {
      cause: err,
    });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    fail("config", "expected a mapping at the top");
  const root = doc as Record<string, unknown>;
  for (const key of Object.keys(root)) {
    if (!KEYS.includes(key) && !SECTIONS.includes(key)) {
      fail(key, `unknown key (expected one of ${[...KEYS, ...SECTIONS].join(", ")})`);
    }
  }
  const section = (key: string, keys: string[]): Record<string, unknown> => {
    const value = root[key] ?? {};
    if (typeof value !== "object" || value === null || Array.isArray(value))
      fail(key, "expected a mapping");
    for (const k of Object.keys(value as object)) {
      if (!keys.includes(k))
        fail(`${key}.${k}`, `unknown key (expected one of ${keys.join(", ")})`);
    }
    return value as Record<string, unknown>;
  };
  const str = (key: string, value: unknown, fallback: string): string => {
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !value) fail(key, "expected a non-empty string");
    return value as string;
  };
  const duration = (key: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === null || ms <= 0)
      fail(key, `expected a duration like "5s" or "500ms", got ${JSON.stringify(value)}`);
    return ms as number;
  };
  const provider = parseSection(
    providerConfigSchema,
    root.provider ?? { local: {} },
    "provider",
    source,
  );
  const balancer = parseSection(
    balancerConfigSchema,
    root.balancer ?? { local: {} },
    "balancer",
    source,
  );
  const deploy = section("deploy", ["server_timeout", "drain_timeout"]);

  const listenText = overrides.listen ?? str("listen", root.listen, "127.0.0.1:7700");
  const listen =
    parseListen(listenText) ?? fail("listen", `expected host:port, got "${listenText}"`);
  const addressPrefix = "local" in provider ? provider.local.address_prefix : "127.0.0";
  const balancerHost = "local" in balancer ? balancer.local.host : "127.0.0.1";
  const sections: Record<string, unknown> = {};
  for (const key of SECTIONS) if (root[key] !== undefined) sections[key] = root[key];
  return Object.freeze({
    dataDir: overrides.dataDir ?? str("data_dir", root.data_dir, ".strata"),
    listen: Object.freeze(listen),
    addressPrefix,
    balancerHost,
    provider,
    balancer,
    heartbeatTimeoutMs: duration("heartbeat_timeout", root.heartbeat_timeout, 15_000),
    heartbeatMs: duration("heartbeat_interval", root.heartbeat_interval, 5_000),
    serverTimeoutMs: duration("deploy.server_timeout", deploy.server_timeout, 600_000),
    drainMs: duration("deploy.drain_timeout", deploy.drain_timeout, 10_000),
    sections: Object.freeze(sections),
  });
}

function parseListen(text: string): { host: string; port: number } | null {
  const match = /^([\w.-]+|\[[0-9a-f:]+\]):(\d{1,5})$/i.exec(text);
  if (!match) return null;
  const port = Number(match[2]);
  return port <= 65535 ? { host: match[1]!, port } : null;
}
