import { z } from "zod";
import { ConfigError } from "./errors.js";
import { DURATION_HINT, parseDuration } from "./duration.js";
import { kind } from "../config/problems.js";

/**
 * Validates one section of strata.yaml with its zod schema (undefined when the
 * section is absent: the caller's default applies); the first problem
 * becomes a ConfigError naming the full key (`state.postgres.url`) and, for an
 * unknown key, the key itself (`state.mysql`).
 */
export function parseSection<S extends z.ZodType>(
  schema: S,
  value: unknown,
  key: string,
  source = "strata.yaml",
): z.infer<S> | undefined {
  if (value === undefined) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const { issue, path: inner } = innermost(result.error.issues[0]!, []);
  const path = [key, ...inner];
  if (issue.code === "unrecognized_keys") {
    const unknown = `${path.join(".")}.${issue.keys[0]}`;
    throw new ConfigError(unknown, `[config] ${source}: ${unknown}: unknown key`);
  }
  const at = path.join(".");
  throw new ConfigError(at, `[config] ${source}: ${at}: ${issue.message}`);
}

/**
 * The issue to report: inside a union (a bare name or a mapping), the one of
 * the alternative that matched the value's type, so the message names the
 * deepest key instead of "Invalid input".
 */
function innermost(
  issue: z.core.$ZodIssue,
  prefix: string[],
): { issue: z.core.$ZodIssue; path: string[] } {
  const path = [...prefix, ...issue.path.map(String)];
  if (issue.code !== "invalid_union") return { issue, path };
  const branch =
    issue.errors.find((b) => b[0] && !(b[0].code === "invalid_type" && b[0].path.length === 0)) ??
    issue.errors[0];
  return branch?.[0] ? innermost(branch[0], path) : { issue, path };
}

/** A duration string of the one grammar, as milliseconds; a bare number is refused. */
export function durationMs() {
  return z.unknown().transform((value, ctx) => {
    const ms = typeof value === "string" ? parseDuration(value) : null;
    if (ms === null || ms <= 0) {
      ctx.addIssue({ code: "custom", message: `expected ${DURATION_HINT}, got ${kind(value)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/**
 * A mapping with exactly one of the named choices (`{ postgres: {...} }`), or a
 * bare name for choices whose options may all be left out (`embedded`).
 */
export function oneOf<T extends Record<string, z.ZodType>>(
  choices: T,
  bare: (keyof T & string)[] = [],
) {
  const names = Object.keys(choices).join(", ");
  const mapping = z
    .strictObject(choices)
    .partial()
    .superRefine((value, ctx) => {
      const given = Object.keys(value).filter(
        (k) => (value as Record<string, unknown>)[k] !== undefined,
      );
      if (given.length !== 1)
        ctx.addIssue({ code: "custom", message: `expected exactly one of ${names}` });
    });
  const name = z.string().transform((text, ctx) => {
    if (!bare.includes(text)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown kind "${text}" (expected ${bare.length ? bare.join(", ") + " or " : ""}a mapping of one of ${names})`,
      });
      return z.NEVER;
    }
    return { [text]: {} } as Partial<{ [K in keyof T]: z.infer<T[K]> }>;
  });
  const forms = `${bare.map((b) => `${b} or `).join("")}a mapping of one of ${names}`;
  return z.union([name, mapping], {
    error: (issue) =>
      issue.code === "invalid_union" ? `must be ${forms}, got ${kind(issue.input)}` : undefined,
  });
}
