import { statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { described, duration, integer, mapping, mappingOf, text } from "../config/fields.js";
import { validate } from "../config/parse.js";
import { groupName } from "../wire/names.js";

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

/**
 * The `groups` section's schema, registered in src/config/schema.ts: relative
 * recipe paths resolve against `cwd`, and each recipe must be an existing folder.
 */
export function groupsSection(context: { cwd: string }) {
  return mappingOf(
    groupName,
    mapping({
      recipe: described(
        text("a folder path")
          .optional()
          .transform((path, ctx) => {
            if (path === undefined) return null;
            const recipe = resolve(context.cwd, path);
            if (!statSync(recipe, { throwIfNoEntry: false })?.isDirectory()) {
              ctx.addIssue({ code: "custom", message: `${recipe} is not a folder` });
              return z.NEVER;
            }
            return recipe;
          }),
        {
          type: "folder path",
          default: "none",
          description:
            "The middleware recipe: files copied into the image, `provision.sh` run there. Relative to the control plane's working folder. Without one the app layer bakes on the provider's base image.",
        },
      ),
      provision_timeout: duration({
        default: "10m",
        bareUnit: "ms",
        description: "Longest run of the recipe's `provision.sh`.",
      }),
    }).transform((group): GroupImageConfig => ({
      recipe: group.recipe,
      provisionTimeoutMs: group.provision_timeout,
    })),
  );
}

/** The `images` section's schema, registered in src/config/schema.ts. */
export const imagesSection = mapping({
  keep: described(integer(1, 1000).prefault(DEFAULT_KEEP), {
    description: "Newest app images kept per group by `strata images gc`.",
  }),
});

/**
 * The `groups` and `images` sections of `sections` (as `parseServerConfig` keeps them),
 * read through their schemas. Throws ConfigError naming the key.
 */
export function parseImageConfig(
  sections: Readonly<Record<string, unknown>>,
  cwd: string,
  source = "strata.yaml",
): ImageConfig {
  const images = validate(imagesSection, sections.images, source, ["images"]);
  const groups = validate(groupsSection({ cwd }), sections.groups, source, ["groups"]);
  return Object.freeze({ keep: images.keep, groups });
}
