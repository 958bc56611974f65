import { parse } from "yaml";
// zod/mini: the agent parses an app's strata.yaml, and classic zod would triple its bundle.
import { safeParse } from "zod/mini";
import type { $ZodIssue, $ZodRawIssue, $ZodType, output } from "zod/v4/core";
import { ConfigError, messageOf } from "../lib/errors.js";
import { kind } from "./problems.js";

/**
 * Reads YAML `text` and validates it whole against `schema`: every problem
 * found is listed, one per line (`[config] <file>: <key>: <problem>`), and the
 * ConfigError names the first key. Nothing is returned, so nothing applies,
 * unless the whole document is valid. The result is deep-frozen.
 */
export function parseDocument<S extends $ZodType>(
  schema: S,
  text: string,
  source: string,
  options: { rootKey: string; empty?: unknown },
): output<S> {
  const doc = readYaml(text, source, options.rootKey) ?? options.empty;
  return validate(schema, doc, source, [], options.rootKey);
}

/** The YAML document of `text` (null for an empty one); a syntax error is a ConfigError. */
export function readYaml(text: string, source: string, rootKey: string): unknown {
  try {
    return parse(text);
  } catch (err) {
    throw new ConfigError(rootKey, `[config] ${source}: invalid YAML: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/**
 * Validates an already-read value that sits at `path` in the file (a section
 * as `parseServerConfig` keeps it), naming keys by their full path.
 */
export function validate<S extends $ZodType>(
  schema: S,
  value: unknown,
  source: string,
  path: readonly string[],
  rootKey = "config",
): output<S> {
  const result = safeParse(schema, value, { reportInput: true, error: genericProblem });
  if (result.success) return deepFreeze(result.data);
  const issues = [...result.error.issues].sort(unknownKeysFirst);
  const problems = issues.flatMap((issue) => describeIssue(issue, path, rootKey));
  const [first] = problems;
  throw new ConfigError(
    first!.key,
    problems.map((p) => `[config] ${source}: ${p.key}: ${p.problem}`).join("\n"),
    { cause: result.error },
  );
}

function describeIssue(
  issue: $ZodIssue,
  prefix: readonly string[],
  rootKey: string,
): { key: string; problem: string }[] {
  const path = [...prefix, ...issue.path.map(String)];
  if (issue.code === "unrecognized_keys") {
    const [key, ...more] = issue.keys;
    const also = more.length > 0 ? `; also unknown: ${more.join(", ")}` : "";
    // zod's own wording ("Unrecognized key") from a section written in plain zod reads as ours.
    const problem = issue.message.startsWith("Unrecognized key") ? "unknown key" : issue.message;
    return [{ key: [...path, key].join("."), problem: problem + also }];
  }
  if (issue.code === "invalid_union") {
    // The one form the value's type fits (a mapping for a mapping) names the inner key at fault;
    // with none, or several, the union's own message says which forms it takes.
    const fitting = issue.errors.filter((branch) => !branch.every(isTypeMismatchHere));
    if (fitting.length === 1) {
      const branch = [...fitting[0]!].sort(unknownKeysFirst);
      return branch.flatMap((inner) => describeIssue(inner, path, rootKey));
    }
  }
  const problem =
    issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return [{ key: path.length > 0 ? path.join(".") : rootKey, problem }];
}

/** An issue saying the value itself has another type than this form takes. */
function isTypeMismatchHere(issue: $ZodIssue): boolean {
  return issue.code === "invalid_type" && issue.path.length === 0;
}

/** An unknown key first: a misspelt key is the likely cause of the problems beside it. */
function unknownKeysFirst(a: $ZodIssue, b: $ZodIssue): number {
  return Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys");
}

/** Messages for the issues a field's own schema does not word. */
function genericProblem(issue: $ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) return "is required";
    return `must be ${typeName(issue.expected)}, got ${kind(issue.input)}`;
  }
  if (issue.code === "invalid_value") {
    const values = issue.values.map((v) => JSON.stringify(v)).join(", ");
    return `must be ${issue.values.length === 1 ? values : `one of ${values}`}, got ${kind(issue.input)}`;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    const small = issue.code === "too_small";
    const bound = small ? issue.minimum : issue.maximum;
    const most =
      issue.inclusive === false
        ? small
          ? "more than"
          : "less than"
        : small
          ? "at least"
          : "at most";
    const what =
      issue.origin === "array" || issue.origin === "set"
        ? `${most} ${bound} ${Number(bound) === 1 ? "entry" : "entries"}`
        : issue.origin === "string"
          ? `${most} ${bound} ${Number(bound) === 1 ? "character" : "characters"}`
          : `${most} ${bound}`;
    return `must be ${what}, got ${kind(issue.input)}`;
  }
  if (issue.code === "invalid_format") {
    const format =
      issue.format === "regex" ? `a string matching ${issue.pattern}` : `a ${issue.format}`;
    return `must be ${format}, got ${kind(issue.input)}`;
  }
  if (issue.code === "invalid_union") {
    const forms = issue.errors
      .flatMap((branch) => branch.filter(isTypeMismatchHere))
      .map((mismatch) => (mismatch as { expected?: string }).expected)
      .filter((expected): expected is string => typeof expected === "string")
      .map(typeName);
    const expected =
      forms.length > 0 ? [...new Set(forms)].join(" or ") : "one of its accepted forms";
    return `must be ${expected}, got ${kind(issue.input)}`;
  }
  return undefined;
}

/** A zod type name as a user reads it: `a mapping`, `an integer`, `a string`. */
function typeName(expected: string): string {
  if (expected === "object" || expected === "record") return "a mapping";
  if (expected === "array") return "a list";
  if (expected === "int") return "an integer";
  return `a ${expected}`;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
