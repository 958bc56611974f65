import { statSync } from "node:fs";
import { resolve } from "node:path";
import { parseDuration } from "../config/app-definition.js";
import { ConfigError } from "../lib/errors.js";

/**
 * The `groups` and `images` sections of the control plane's strata.yaml:
 *
 * ```yaml
 * groups:
 *   web:
 *     recipe: ./recipes/web      # folder: files copied into the image, provision.sh run there
 *     provision_timeout: 10m     # @default 10m
 * images:
 *   keep: 5                      # newest app images kept per group @default 5
 * ```
 *
 * A group without a recipe (or not listed) bakes its app layer on the
 * provider's base image.
 */
export interface ImageConfig {
  /** @default 5 */
  readonly keep: number;
  readonly groups: Readonly<Record<string, GroupImageConfig>>;
}

export interface GroupImageConfig {
  /** Absolute path of the recipe folder; null when the group has none. */
  readonly recipe: string | null;
  /** @default 600000 */
  readonly provisionTimeoutMs: number;
}

export const DEFAULT_KEEP = 5;
export const DEFAULT_PROVISION_TIMEOUT_MS = 600_000;
const GROUP_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const GROUP_KEYS = ["recipe", "provision_timeout"];
const IMAGES_KEYS = ["keep"];

/**
 * Validates the sections as `parseServerConfig` passes them (raw YAML values);
 * relative recipe paths resolve against `cwd`, and each recipe must be an
 * existing folder. Throws ConfigError naming the key.
 */
export function parseImageConfig(
  sections: Readonly<Record<string, unknown>>,
  cwd: string,
  source = "strata.yaml",
): ImageConfig {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(key, `[config] ${source}: ${key}: ${problem}`);
  };
  const mapping = (value: unknown, key: string, keys: string[] | null): Record<string, unknown> => {
    if (value === undefined || value === null) return {};
    if (typeof value !== "object" || Array.isArray(value)) fail(key, "expected a mapping");
    for (const k of Object.keys(value as object)) {
      if (keys && !keys.includes(k))
        fail(`${key}.${k}`, `unknown key (expected one of ${keys.join(", ")})`);
    }
    return value as Record<string, unknown>;
  };

  const images = mapping(sections.images, "images", IMAGES_KEYS);
  const keep = images.keep ?? DEFAULT_KEEP;
  if (typeof keep !== "number" || !Number.isInteger(keep) || keep < 1 || keep > 1000) {
    fail("images.keep", `expected a whole number from 1 to 1000, got ${JSON.stringify(keep)}`);
  }

  const groups: Record<string, GroupImageConfig> = {};
  for (const [name, value] of Object.entries(mapping(sections.groups, "groups", null))) {
    if (!GROUP_NAME.test(name))
      fail(`groups.${name}`, "a group name is lowercase letters, digits and dashes");
    const group = mapping(value, `groups.${name}`, GROUP_KEYS);
    let recipe: string | null = null;
    if (group.recipe !== undefined) {
      if (typeof group.recipe !== "string" || !group.recipe)
        fail(`groups.${name}.recipe`, "expected a folder path");
      recipe = resolve(cwd, group.recipe as string);
      const info = statSync(recipe, { throwIfNoEntry: false });
      if (!info?.isDirectory()) fail(`groups.${name}.recipe`, `${recipe} is not a folder`);
    }
    let provisionTimeoutMs = DEFAULT_PROVISION_TIMEOUT_MS;
    if (group.provision_timeout !== undefined) {
      const ms = parseDuration(group.provision_timeout);
      if (ms === null || ms <= 0) {
        fail(
          `groups.${name}.provision_timeout`,
          `expected a duration like "10m", got ${JSON.stringify(group.provision_timeout)}`,
        );
      }
      provisionTimeoutMs = ms as number;
    }
    groups[name] = Object.freeze({ recipe, provisionTimeoutMs });
  }
  return Object.freeze({ keep: keep as number, groups: Object.freeze(groups) });
}
