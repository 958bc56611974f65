import { StrataError, type ErrorCode } from "../errors.js";

/**
 * An OpenStack call that failed. The message names the cloud, the service,
 * the request and the request id (what an operator quotes to the cloud's
 * admins), and the fault the service gave.
 */
export class OpenStackError extends StrataError {
  readonly cloud: string;
  readonly service: string;
  /** HTTP status; 0 when no answer came (unreachable, timed out). */
  readonly status: number;
  readonly requestId: string | null;

  constructor(
    code: ErrorCode,
    message: string,
    details: { cloud: string; service: string; status: number; requestId: string | null },
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = "OpenStackError";
    this.cloud = details.cloud;
    this.service = details.service;
    this.status = details.status;
    this.requestId = details.requestId;
  }
}

export function codeOfStatus(status: number): ErrorCode {
  if (status === 400) return "bad_request";
  if (status === 401 || status === 403) return "unauthorized";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "too_large";
  if (status >= 500) return "unavailable";
  return "internal";
}

/** The human part of an error body: Nova `{"itemNotFound": {"message"}}`, Keystone `{"error": {"message"}}`, Octavia `{"faultstring"}`, Glance's HTML. */
export function faultOf(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    const plain = text
      .replace(/<head>[\s\S]*?<\/head>/i, "")
      .replace(/<[^>]+>/g, " ")
      .replace(/\s+/g, " ")
      .trim();
    return plain.slice(0, 500) || "(no body)";
  }
  const find = (value: unknown, depth: number): string | null => {
    if (typeof value !== "object" || value === null || depth > 2) return null;
    const record = value as Record<string, unknown>;
    for (const key of ["message", "faultstring", "detail", "title"]) {
      if (typeof record[key] === "string" && record[key]) return record[key] as string;
    }
    for (const inner of Object.values(record)) {
      const found = find(inner, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return (find(doc, 0) ?? text).slice(0, 500);
}
