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
  // An unknown key first: a misspelt key is the likely cause of the problems beside it.
  const issues = [...result.error.issues].sort(
    (a, b) => Number(b.code === "unrecognized_keys") - Number(a.code === "unrecognized_keys"),
  );
  const problems = issues.map((issue) => describeIssue(issue, path, rootKey));
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
): { key: string; problem: string } {
  const path = [...prefix, ...issue.path.map(String)];
  if (issue.code === "unrecognized_keys") {
    const [key, ...more] = issue.keys;
    const also = more.length > 0 ? `; also unknown: ${more.join(", ")}` : "";
    // zod's own wording ("Unrecognized key") from a section written in plain zod reads as ours.
    const problem = issue.message.startsWith("Unrecognized key") ? "unknown key" : issue.message;
    return { key: [...path, key].join("."), problem: problem + also };
  }
  const problem =
    issue.code === "invalid_key" ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return { key: path.length > 0 ? path.join(".") : rootKey, problem };
}

/** Messages for the issues a field's own schema does not word. */
function genericProblem(issue: $ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type") {
    if (issue.input === undefined) return "is required";
    const expected =
      issue.expected === "object" || issue.expected === "record"
        ? "a mapping"
        : `a ${issue.expected}`;
    return `must be ${expected}, got ${kind(issue.input)}`;
  }
  if (issue.code === "invalid_union") return `has no accepted form, got ${kind(issue.input)}`;
  return undefined;
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
