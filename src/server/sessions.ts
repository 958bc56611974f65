import { readFileSync, writeFileSync } from "node:fs";
import { hashToken, newToken, sameSecret } from "../fleet/tokens.js";
import type { Clock } from "../lib/clock.js";

export const SESSION_COOKIE = "strata_session";

export interface SessionsOptions {
  adminToken: string;
  clock: Clock;
  /** How long a session lasts after sign-in. @default 12 h */
  ttlMs?: number;
  /**
   * Where sessions outlive a restart (hashes and expiry times only, mode 0600), so an open
   * dashboard reconnects instead of asking to sign in again. @default in memory only
   */
  file?: string;
}

/**
 * Dashboard sessions: the browser posts the admin token once and gets a random
 * session id in an HttpOnly, SameSite=Strict cookie (EventSource cannot send an
 * Authorization header, and the token itself never sits in page-readable storage).
 * A new admin token (the file replaced) ends them all: they are kept per token.
 */
export interface Sessions {
  /** A new session id for the admin token, or null when the token is wrong. */
  signIn(token: string): string | null;
  /** Ends the session in the cookie header, if any. Idempotent. */
  signOut(cookieHeader: string | undefined): void;
  /** Whether the cookie header holds a live session. */
  valid(cookieHeader: string | undefined): boolean;
  /** The Set-Cookie value for a session id (an empty id clears the cookie). */
  cookie(id: string): string;
}

export function createSessions(options: SessionsOptions): Sessions {
  const ttlMs = options.ttlMs ?? 12 * 3_600_000;
  /** sha256 of the session id -> expiry (Unix ms); the ids themselves are not kept. */
  const live = new Map<string, number>(load(options.file, hashToken(options.adminToken)));
  const save = () => {
    if (!options.file) return;
    const doc = { token: hashToken(options.adminToken), sessions: Object.fromEntries(live) };
    writeFileSync(options.file, JSON.stringify(doc) + "\n", { mode: 0o600 });
  };

  const idIn = (header: string | undefined) => {
    for (const part of (header ?? "").split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === SESSION_COOKIE) return rest.join("=");
    }
    return null;
  };

  return {
    signIn(token) {
      if (!sameSecret(token, options.adminToken)) return null;
      const now = options.clock.now();
      for (const [hash, expires] of live) if (expires <= now) live.delete(hash);
      const id = newToken();
      live.set(hashToken(id), now + ttlMs);
      save();
      return id;
    },
    signOut(header) {
      const id = idIn(header);
      if (id && live.delete(hashToken(id))) save();
    },
    valid(header) {
      const id = idIn(header);
      if (!id) return false;
      const expires = live.get(hashToken(id));
      return expires !== undefined && expires > options.clock.now();
    },
    cookie(id) {
      const age = id ? Math.floor(ttlMs / 1000) : 0;
      return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${age}`;
    },
  };
}

/** Sessions saved for this admin token; none when the file is missing, unreadable or another token's. */
function load(file: string | undefined, tokenHash: string): [string, number][] {
  if (!file) return [];
  try {
    const doc = JSON.parse(readFileSync(file, "utf8")) as {
      token?: string;
      sessions?: Record<string, number>;
    };
    if (doc.token !== tokenHash || typeof doc.sessions !== "object" || doc.sessions === null)
      return [];
    return Object.entries(doc.sessions).filter(([, expires]) => typeof expires === "number");
  } catch {
    return [];
  }
}
