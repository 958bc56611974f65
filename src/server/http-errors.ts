import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { StrataError, toWireError, type ErrorCode } from "../lib/errors.js";

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  invalid_config: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  checksum_mismatch: 422,
  bad_signature: 422,
  unsafe_archive: 422,
  too_large: 413,
  hook_failed: 500,
  health_check_failed: 500,
  timeout: 504,
  unavailable: 503,
  internal: 500,
};

/** The one place API errors become `{ error: { code, message } }` responses. */
export function errorResponse(err: unknown, c: Context): Response {
  const wire = toWireError(err);
  if (!(err instanceof StrataError)) console.error("[server] unexpected error:", err);
  return c.json({ error: wire }, STATUS[wire.code] ?? 500);
}

export function badRequest(message: string): StrataError {
  return new StrataError("bad_request", message);
}
