import { readFile } from "node:fs/promises";
import { ConfigError, messageOf } from "../lib/errors.js";
import { deepFreeze, readYaml, validate } from "./parse.js";
import {
  SECTIONS,
  sectionAt,
  serverSchema,
  type CoreDocument,
  type SectionRegistry,
  type SectionValues,
} from "./schema.js";

/**
 * The control plane's configuration: `strata.yaml` in the working folder (or
 * `--config` / STRATA_CONFIG). Every key is optional; the embedded defaults run
 * everything in one process. Precedence: flags > env > file > defaults. The
 * schema, and the reference of every key, is src/config/schema.ts
 * (docs/config.md is generated from it).
 */
export interface ServerConfig<R extends SectionRegistry = typeof SECTIONS> {
  /** Where state, artifacts, tokens and local servers live. @default ".strata" */
  readonly dataDir: string;
  /** `host:port` of the HTTP API. @default "127.0.0.1:7700" */
  readonly listen: { readonly host: string; readonly port: number };
  /** First three octets of local servers' addresses. @default "127.0.0" */
  readonly addressPrefix: string;
  /** Loopback address of the built-in load balancer listeners. @default "127.0.0.1" */
  readonly balancerHost: string;
  /** @default 15000 */
  readonly heartbeatTimeoutMs: number;
  /** Agents' heartbeat interval (local provider). @default 5000 */
  readonly heartbeatMs: number;
  /** Longest wait for one server in a deployment wave. @default 600000 */
  readonly serverTimeoutMs: number;
  /** Longest drain of in-flight requests when a server leaves the balancer. @default 10000 */
  readonly drainMs: number;
  /**
   * Whether agents may join with the cluster-wide join token (`<data_dir>/join-token`)
   * under any new name. Off: servers join only with the single-use token issued
   * for them at launch or by `strata tokens join`. @default false
   */
  readonly clusterJoinToken: boolean;
  /**
   * HTTPS for the API with strata's own CA (made at first start in
   * `<data_dir>/tls/`): `auto` serves HTTPS when `listen` is not a loopback
   * address, `on` always, `off` never (a warning when not on loopback). @default "auto"
   */
  readonly tls: "auto" | "on" | "off";
  /** Every registered section, validated and typed, by its name in SECTIONS. */
  readonly settings: SectionValues<R>;
  /**
   * The raw YAML value of each section present in the file, by its name in
   * SECTIONS; already validated, for readers that take the raw form
   * (`parseForecastConfig(config.sections)`).
   */
  readonly sections: Readonly<Record<string, unknown>>;
}

export interface ServerConfigInput {
  /** Path of the YAML file; a missing default file is fine, a missing named one is an error. */
  file?: string;
  /** Flags, highest precedence. */
  flags?: ServerConfigOverrides;
  env?: NodeJS.ProcessEnv;
}

export interface ServerConfigOverrides {
  dataDir?: string;
  listen?: string;
}

export interface ServerConfigOptions<R extends SectionRegistry> {
  /** Folder that relative paths in the file resolve against. @default process.cwd() */
  cwd?: string;
  /** The sections read beside the core keys. @default SECTIONS */
  sections?: R;
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

/**
 * Validates the whole document, overrides included (an override is checked as
 * the key it replaces), before anything uses it: an invalid config never
 * half-applies. Throws ConfigError naming the first bad key, every problem listed.
 */
export function parseServerConfig<R extends SectionRegistry = typeof SECTIONS>(
  text: string,
  source: string,
  overrides: ServerConfigOverrides = {},
  options: ServerConfigOptions<R> = {},
): ServerConfig<R> {
  const sections = options.sections ?? (SECTIONS as unknown as R);
  const schema = serverSchema(sections, { cwd: options.cwd ?? process.cwd() });
  const raw = readYaml(text, source, "config") ?? {};
  const isMapping = typeof raw === "object" && !Array.isArray(raw);
  const input = isMapping
    ? {
        ...raw,
        ...(overrides.dataDir !== undefined ? { data_dir: overrides.dataDir } : {}),
        ...(overrides.listen !== undefined ? { listen: overrides.listen } : {}),
      }
    : raw;
  const doc = validate(schema, input, source, [], "config") as Record<string, unknown>;
  const core = doc as unknown as CoreDocument;
  const settings: Record<string, unknown> = {};
  const present: Record<string, unknown> = {};
  for (const name of Object.keys(sections)) {
    settings[name] = sectionAt(doc, name);
    const value = sectionAt(raw as Record<string, unknown>, name);
    if (value !== undefined) present[name] = value;
  }
  return Object.freeze({
    dataDir: core.data_dir,
    listen: core.listen,
    addressPrefix: core.provider.local.address_prefix,
    balancerHost: core.balancer.host,
    heartbeatTimeoutMs: core.heartbeat_timeout,
    heartbeatMs: core.heartbeat_interval,
    serverTimeoutMs: core.deploy.server_timeout,
    drainMs: core.deploy.drain_timeout,
    clusterJoinToken: core.join.cluster_token,
    tls: core.tls,
    settings: Object.freeze(settings) as SectionValues<R>,
    sections: deepFreeze(present),
  });
}
