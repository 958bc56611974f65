import * as z from "zod/mini";
import type { $ZodShape, $ZodType } from "zod/v4/core";
import { checkDuration, formatDuration, type DurationLimits } from "../lib/duration.js";
import type { FieldMeta } from "./fields.js";
import { kind, unknownKey } from "./problems.js";

/**
 * The building blocks of ./fields.ts on zod/mini, for the one schema the agent
 * reads (an app's strata.yaml): classic zod would add some 800 KB to the agent
 * bundle that every new server starts from. Same wording, same reference text.
 */

/** Attaches the reference text of a key to its schema (docs/config.md). */
export function described<S extends $ZodType>(schema: S, meta: FieldMeta): S {
  z.globalRegistry.add(schema, { ...meta });
  return schema;
}

/** A mapping whose keys are exactly `shape`'s; another key is an error naming it. */
export function strictMapping<S extends $ZodShape>(shape: S, expected = "a mapping") {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return unknownKey(String(issue.keys[0]), keys);
      if (issue.code === "invalid_type") return `must be ${expected}, got ${kind(issue.input)}`;
      return undefined;
    },
  });
}

/** A strict mapping that may be left out or empty: then every key takes its default. */
export function mapping<S extends $ZodShape>(shape: S) {
  return z.pipe(absentIfNull(), z.prefault(strictMapping(shape), {} as never));
}

/** A transform step that reads a YAML `key:` with nothing after it as absent. */
export function absentIfNull() {
  return z.transform((value: unknown) => (value === null ? undefined : value));
}

/** A duration in the one grammar, read as ms; `fallback` in the file's form (`"10s"`). */
export function duration(options: FieldMeta & DurationLimits & { fallback?: string }) {
  const schema = z.pipe(
    z.unknown(),
    z.transform((value, ctx) => {
      const checked = checkDuration(value, options);
      if ("ms" in checked) return checked.ms;
      ctx.issues.push({ code: "custom", message: checked.problem, input: value });
      return z.NEVER;
    }),
  );
  const { min = 1 } = options;
  const meta: FieldMeta = {
    description: options.description,
    type:
      options.type ??
      (min === 0 ? "duration ≥ 0" : min > 1 ? `duration ≥ ${formatDuration(min)}` : "duration"),
    ...(options.fallback === undefined ? { default: "(required)" } : {}),
  };
  return options.fallback === undefined
    ? described(schema, meta)
    : described(z.prefault(schema, options.fallback), meta);
}

/** A whole number from `min` to `max`, `fallback` when absent. */
export function integer(min: number, max: number, fallback: number, description: string) {
  const error = (issue: { input?: unknown }) =>
    `must be an integer from ${min} to ${max}, got ${kind(issue.input)}`;
  const schema = z.int({ error }).check(z.minimum(min, { error }), z.maximum(max, { error }));
  return described(z.prefault(schema, fallback), { type: `integer ${min}–${max}`, description });
}

/** A string that is not blank. */
export function text(what = "a non-empty string") {
  const error = (issue: { input?: unknown }) => `must be ${what}, got ${kind(issue.input)}`;
  return z.string({ error }).check(z.regex(/\S/, { error }));
}
