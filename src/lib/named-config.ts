import { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * A config section naming exactly one implementation, `{ <name>: { ...options } }`,
 * whose options the named schema checks. An unknown name is an issue naming
 * the known ones (stretcher's NewSyncStrategy habit), never a silent default.
 */
export function namedSchema<S extends Record<string, z.ZodType>>(kind: string, schemas: S) {
  type Out = { [K in keyof S]: { [P in K]: z.output<S[K]> } }[keyof S];
  const names = Object.keys(schemas);
  return z.unknown().transform((value, ctx): Out => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a mapping naming one ${kind} (${names.join(" or ")})`,
      });
      return z.NEVER;
    }
    const keys = Object.keys(value);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `expected exactly one ${kind} (${names.join(" or ")}), got ${keys.length ? keys.join(", ") : "none"}`,
      });
      return z.NEVER;
    }
    const name = keys[0]!;
    const schema = schemas[name];
    if (!schema) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `unknown ${kind} (expected one of ${names.join(", ")})`,
      });
      return z.NEVER;
    }
    const parsed = schema.safeParse((value as Record<string, unknown>)[name] ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        ctx.addIssue({ ...issue, path: [name, ...issue.path] } as never);
      return z.NEVER;
    }
    return { [name]: parsed.data } as Out;
  });
}

/** Parses `value` with `schema`, or throws a ConfigError naming the first offending key under `key`. */
export function parseSection<T extends z.ZodType>(
  schema: T,
  value: unknown,
  key: string,
  source: string,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  let path = [key, ...issue.path.map(String)];
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0]!];
    message = "unknown key";
  }
  const at = path.join(".");
  throw new ConfigError(at, `[config] ${source}: ${at}: ${message}`);
}
