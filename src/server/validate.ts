import type { Context } from "hono";
import type { z } from "zod";
import { StrataError } from "../lib/errors.js";

/**
 * Body limits per kind of route. A body is counted while it streams in and
 * refused at the limit (413) before it is all read; the Content-Length is
 * checked first, so an announced 400 MB body is refused without reading it.
 */
export const BODY_LIMIT = {
  /** join, heartbeat, fleet, deploy requests */
  small: 16 * 1024,
  /** agent reports (steps with bounded hook output) */
  report: 1024 * 1024,
  /** traffic batches: at most 10,000 minutes */
  traffic: 4 * 1024 * 1024,
} as const;

/** Reads, parses and validates a JSON body; answers 413, or 400 naming the field. Never reads past `limit`. */
export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  what: string,
  limit: number = BODY_LIMIT.small,
): Promise<z.infer<S>> {
  const text = await readText(c, what, limit);
  let value: unknown;
  try {
    // An empty body is `undefined`: a schema with a default takes it, any other refuses it.
    value = text.trim() === "" ? undefined : JSON.parse(text);
  } catch {
    throw new StrataError("bad_request", `${label(what)}: the body is not JSON`);
  }
  return check(schema, value, what);
}

/** Validates a route's query string (every value a string) against `schema`. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S, what: string): z.infer<S> {
  return check(schema, c.req.query(), what);
}

/** Validates a route's path parameters against `schema`. */
export function readParams<S extends z.ZodType>(c: Context, schema: S, what: string): z.infer<S> {
  return check(schema, c.req.param(), what);
}

/**
 * Validates `value`; the error names the field. `what` names the request, with
 * its component first when it is not the server's own (`[traffic] POST traffic`).
 */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? issue.path.map(String).join(".") : "body";
  throw new StrataError("bad_request", `${label(what)}: ${field}: ${describeIssue(issue)}`);
}

const label = (what: string) => (what.startsWith("[") ? what : `[server] ${what}`);

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `unknown key(s) ${issue.keys.join(", ")}`;
  return issue.message.replace(/^Invalid input: /, "");
}

async function readText(c: Context, what: string, limit: number): Promise<string> {
  const tooLarge = () =>
    new StrataError("too_large", `${label(what)}: the body is larger than ${limit} bytes`);
  const announced = Number(c.req.header("content-length") ?? "NaN");
  if (announced > limit) throw tooLarge();
  const body = c.req.raw.body;
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
