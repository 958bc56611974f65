import { z } from "zod";
import { checkDuration, formatDuration, type DurationLimits } from "../lib/duration.js";
import { kind, unknownKey } from "./problems.js";

export { kind };

/**
 * The building blocks of every strata.yaml schema (the control plane's, an
 * app's, and the sections that domain folders plug in). Each leaf carries a
 * description and, where it has one, a default in the file's own form, so
 * `docs/config.md` is generated from the schema and cannot drift from it.
 */

/** What the reference in docs/config.md prints for a key. */
export interface FieldMeta {
  /** One sentence or two: what the key does. */
  description: string;
  /** The type as a user reads it ("duration", "integer 1–65535"); derived when absent. */
  type?: string;
  /** The default as a user writes it, when it is not a plain value (`"10m"`, `"(required)"`). */
  default?: string;
}

/** Attaches the reference text of a key to its schema. */
export function described<S extends z.ZodType>(schema: S, meta: FieldMeta): S {
  return schema.meta({ ...meta });
}

/**
 * A mapping whose keys are exactly `shape`'s: any other key is an error
 * naming it, with the expected keys and a "did you mean" for near misses.
 */
export function strictMapping<S extends z.ZodRawShape>(shape: S, expected = "a mapping") {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return unknownKey(String(issue.keys[0]), keys);
      if (issue.code === "invalid_type") return `must be ${expected}, got ${kind(issue.input)}`;
      return undefined;
    },
  });
}

/**
 * A strict mapping that may be left out or empty (`deploy:` alone in YAML):
 * then every key takes its default.
 */
export function mapping<S extends z.ZodRawShape>(shape: S) {
  return z.preprocess(nullToAbsent, strictMapping(shape).prefault({} as never));
}

/** A mapping of names (checked by `key`) to values, like `groups: { web: {...}, api: {...} }`. */
export function mappingOf<K extends z.ZodType<string>, V extends z.ZodType>(key: K, value: V) {
  return z.preprocess(nullToAbsent, z.record(key, value).prefault({} as never));
}

export interface DurationOptions extends FieldMeta, DurationLimits {
  /** In the file's form, like `"10s"`; absent means the key is required. */
  default?: string;
}

/** A duration in the one grammar (`500ms`, `90s`, `10m`, `1.5h`, `28d`, `2w`), read as ms. */
export function duration(options: DurationOptions) {
  const { min = 1, max } = options;
  const schema = z.unknown().transform((value, ctx) => {
    const checked = checkDuration(value, options);
    if ("ms" in checked) return checked.ms;
    ctx.addIssue({ code: "custom", message: checked.problem, input: value });
    return z.NEVER;
  });
  const range =
    max !== undefined
      ? ` ${formatDuration(min)}–${formatDuration(max)}`
      : min > 1
        ? ` ≥ ${formatDuration(min)}`
        : min === 0
          ? " ≥ 0"
          : "";
  const meta: FieldMeta = {
    description: options.description,
    type: options.type ?? `duration${range}`,
    ...(options.default === undefined ? { default: "(required)" } : {}),
  };
  return options.default === undefined
    ? described(schema, meta)
    : described(schema.prefault(options.default), meta);
}

/** A whole number from `min` to `max`. */
export function integer(min: number, max: number) {
  const error = (issue: { input?: unknown }) =>
    `must be an integer from ${min} to ${max}, got ${kind(issue.input)}`;
  return described(z.int({ error }).min(min, { error }).max(max, { error }), {
    type: `integer ${min}–${max}`,
    description: "",
  });
}

/** A string with at least one character that is not blank. */
export function text(what = "a non-empty string") {
  const error = (issue: { input?: unknown }) => `must be ${what}, got ${kind(issue.input)}`;
  return z.string({ error }).regex(/\S/, { error });
}

export function boolean() {
  return z.boolean({ error: (issue) => `must be true or false, got ${kind(issue.input)}` });
}

/** One of `values`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) => `must be one of ${values.join(", ")}, got ${kind(issue.input)}`,
  });
}

function nullToAbsent(value: unknown): unknown {
  return value === null ? undefined : value;
}
