/**
 * The few named errors strata raises. Every message starts with the component
 * (`[agent] fetch: checksum mismatch ...`); `code` is what crosses the wire,
 * so callers branch on codes, never on message text.
 */
export type ErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "invalid_config"
  | "checksum_mismatch"
  | "bad_signature"
  | "unsafe_archive"
  | "too_large"
  | "hook_failed"
  | "health_check_failed"
  | "timeout"
  | "unavailable"
  | "internal";

export class StrataError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StrataError";
    this.code = code;
  }
}

/** A configuration file or flag set that fails validation; `key` names the offending key. */
export class ConfigError extends StrataError {
  readonly key: string;

  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super("invalid_config", message, options);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** The shape of every error between agent, server and CLI. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof StrataError) return { code: err.code, message: err.message };
  return { code: "internal", message: err instanceof Error ? err.message : String(err) };
}

export function fromWireError(wire: WireError): StrataError {
  return new StrataError(wire.code, wire.message);
}

/** Message of an unknown thrown value, for logs and reports. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
