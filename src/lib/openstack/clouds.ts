import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ConfigError, messageOf } from "../errors.js";

/** The auth block of one cloud, as openstacksdk reads it (password or application credential). */
export interface CloudAuth {
  auth_url: string;
  username?: string;
  user_id?: string;
  password?: string;
  user_domain_name?: string;
  user_domain_id?: string;
  project_name?: string;
  project_id?: string;
  project_domain_name?: string;
  project_domain_id?: string;
  domain_name?: string;
  application_credential_id?: string;
  application_credential_name?: string;
  application_credential_secret?: string;
}

/** One entry of `clouds:` after `secure.yaml` was merged in. */
export interface Cloud {
  /** Its key under `clouds:`. */
  name: string;
  /** `password` or `v3applicationcredential` (openstacksdk's names). @default "password" */
  auth_type: "password" | "v3applicationcredential";
  auth: CloudAuth;
  region_name?: string;
  /** Endpoint interface in the catalog. @default "public" */
  interface: "public" | "internal" | "admin";
  /** `<service-type>_endpoint_override` keys, by service type (`compute`, `image`, ...). */
  endpoint_override: Record<string, string>;
  /** File the entry came from. */
  source: string;
}

export interface FindCloudOptions {
  /** Cloud name; OS_CLOUD when absent. */
  cloud?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  cwd?: string;
  /** @default os.homedir() */
  home?: string;
  /** @default "/etc/openstack" */
  siteDir?: string;
}

const EXTENSIONS = ["yaml", "yml", "json"];

/**
 * Folders searched, in openstacksdk's order: the working folder, the user's
 * `~/.config/openstack/`, the site's `/etc/openstack/`. `OS_CLIENT_CONFIG_FILE`
 * names a clouds file that comes before all of them.
 */
export function configDirs(options: FindCloudOptions = {}): string[] {
  const env = options.env ?? process.env;
  const home = options.home ?? homedir();
  const userDir = env.XDG_CONFIG_HOME
    ? join(env.XDG_CONFIG_HOME, "openstack")
    : join(home, ".config", "openstack");
  return [options.cwd ?? process.cwd(), userDir, options.siteDir ?? "/etc/openstack"];
}

async function firstFile(
  candidates: string[],
): Promise<{ path: string; doc: Record<string, unknown> } | null> {
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new ConfigError(
        "provider.openstack.cloud",
        `[openstack] ${path}: cannot read: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    let doc: unknown;
    try {
      doc = parse(text) ?? {};
    } catch (err) {
      throw new ConfigError(
        "provider.openstack.cloud",
        `[openstack] ${path}: not valid YAML: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    if (typeof doc !== "object" || doc === null || Array.isArray(doc))
      throw new ConfigError("provider.openstack.cloud", `[openstack] ${path}: expected a mapping`);
    return { path, doc: doc as Record<string, unknown> };
  }
  return null;
}

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return over ?? base;
  if (typeof over !== "object" || over === null || Array.isArray(over)) return over ?? base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

/**
 * Finds one cloud the way openstacksdk does: the first clouds file found
 * (OS_CLIENT_CONFIG_FILE, then `clouds.yaml` in the folders of `configDirs`),
 * deep-merged with the first `secure.yaml` found in the same folders (where
 * passwords and secrets may live apart). Throws a ConfigError naming the cloud
 * and the files searched when it is not found or incomplete.
 */
export async function findCloud(options: FindCloudOptions = {}): Promise<Cloud> {
  const env = options.env ?? process.env;
  const name = options.cloud ?? env.OS_CLOUD;
  const key = "provider.openstack.cloud";
  if (!name)
    throw new ConfigError(
      key,
      "[openstack] no cloud named: set provider.openstack.cloud or OS_CLOUD",
    );
  const dirs = configDirs(options);
  const candidates = [
    ...(env.OS_CLIENT_CONFIG_FILE ? [env.OS_CLIENT_CONFIG_FILE] : []),
    ...dirs.flatMap((dir) => EXTENSIONS.map((ext) => join(dir, `clouds.${ext}`))),
  ];
  const clouds = await firstFile(candidates);
  if (!clouds) {
    throw new ConfigError(
      key,
      `[openstack] cloud ${name}: no clouds.yaml found (looked in ${candidates.join(", ")})`,
    );
  }
  const secure = await firstFile([
    ...(env.OS_CLIENT_SECURE_FILE ? [env.OS_CLIENT_SECURE_FILE] : []),
    ...dirs.flatMap((dir) => EXTENSIONS.map((ext) => join(dir, `secure.${ext}`))),
  ]);
  const all = clouds.doc.clouds as Record<string, unknown> | undefined;
  const entry = all?.[name];
  if (typeof entry !== "object" || entry === null) {
    const known = Object.keys(all ?? {}).join(", ") || "none";
    throw new ConfigError(
      key,
      `[openstack] cloud ${name}: not in ${clouds.path} (clouds there: ${known})`,
    );
  }
  const merged = merge(
    entry,
    (secure?.doc.clouds as Record<string, unknown> | undefined)?.[name],
  ) as Record<string, unknown>;
  const auth = (merged.auth ?? {}) as CloudAuth;
  const fail = (problem: string): never => {
    throw new ConfigError(key, `[openstack] cloud ${name} (${clouds.path}): ${problem}`);
  };
  if (typeof auth.auth_url !== "string" || !auth.auth_url) fail("auth.auth_url is missing");
  const authType =
    (merged.auth_type as string | undefined) ??
    (auth.application_credential_secret ? "v3applicationcredential" : "password");
  if (authType !== "password" && authType !== "v3applicationcredential")
    fail(`auth_type ${authType} is not supported (password or v3applicationcredential)`);
  if (authType === "password" && !auth.password)
    fail("auth.password is missing (in clouds.yaml or secure.yaml)");
  if (authType === "v3applicationcredential" && !auth.application_credential_secret)
    fail("auth.application_credential_secret is missing (in clouds.yaml or secure.yaml)");
  const iface = ((merged.interface as string | undefined) ?? "public").replace(/URL$/, "");
  if (iface !== "public" && iface !== "internal" && iface !== "admin")
    fail(`interface ${iface} is not one of public, internal, admin`);
  const endpointOverride: Record<string, string> = {};
  for (const [k, v] of Object.entries(merged)) {
    const match = /^(.+)_endpoint_override$/.exec(k);
    if (match && typeof v === "string") endpointOverride[match[1]!.replace(/_/g, "-")] = v;
  }
  return {
    name,
    auth_type: authType as Cloud["auth_type"],
    auth,
    ...(typeof merged.region_name === "string" ? { region_name: merged.region_name } : {}),
    interface: iface as Cloud["interface"],
    endpoint_override: endpointOverride,
    source: clouds.path,
  };
}
