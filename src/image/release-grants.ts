import { createHmac } from "node:crypto";
import { sameSecret } from "../fleet/tokens.js";
import type { Clock } from "../lib/clock.js";

/** What a builder server fetches its release with: the artifact's URL and a bearer credential for it. */
export interface ReleaseGrant {
  /** `<control plane>/v1/releases/<id>/artifact`. */
  url: string;
  /** Reads that one artifact, only while its image bakes and at most until its expiry. */
  token: string;
  /** PEM of strata's CA when `url` is HTTPS with strata's own certificate: the builder trusts it. */
  ca?: string;
}

/**
 * Short-lived credentials that read one release's artifact, for bake
 * builders that fetch the release themselves (Nova user data is too small to
 * carry it). Stateless, so any replica sharing the admin token honours them:
 * an HMAC over the release, the image being baked and the expiry. A grant
 * dies with its bake: it is honoured only while the control plane's record
 * of that image is `saving` (a bake that ended, well or not, moved it on or
 * replaced it), and never after its expiry.
 */
export interface ReleaseGrants {
  /** A grant for `release` while image `image` bakes, for at most `ttlMs`. Pure; may run concurrently. */
  issue(release: string, image: string, ttlMs: number): ReleaseGrant;
  /**
   * The caller's name for the audit log (`bake:<image>`) when `token` is a
   * live grant for `method path`, else null (not a grant, forged, expired,
   * another release, or its bake ended). May run concurrently.
   */
  check(token: string, method: string, path: string): Promise<string | null>;
}

export interface ReleaseGrantsOptions {
  /** The secret the HMAC key is derived from (the admin token, which replicas share). */
  secret: string;
  /** The control plane's URL as builders reach it (provider.openstack.server_url, else its own). */
  baseUrl: () => string;
  clock: Clock;
  /** Whether image `image` is being baked now (its record `saving`). */
  baking: (image: string) => Promise<boolean>;
  /** PEM of strata's CA when the control plane serves HTTPS with its own certificate. @default none */
  ca?: () => string | undefined;
}

const PREFIX = "strata-bake.";
const ARTIFACT_PATH = /^\/v1\/releases\/([^/]+)\/artifact$/;

interface Claims {
  /** Release id. */
  r: string;
  /** Image being baked. */
  i: string;
  /** Expiry, ms since the epoch. */
  e: number;
}

export function createReleaseGrants(options: ReleaseGrantsOptions): ReleaseGrants {
  const { clock, baking } = options;
  const key = createHmac("sha256", options.secret).update("strata-release-grant-v1").digest();
  const mac = (payload: string) => createHmac("sha256", key).update(payload).digest("base64url");

  function claimsOf(token: string): Claims | null {
    if (!token.startsWith(PREFIX)) return null;
    const [payload, signature, extra] = token.slice(PREFIX.length).split(".");
    if (!payload || !signature || extra !== undefined || !sameSecret(signature, mac(payload)))
      return null;
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Partial<Claims>;
      return typeof claims.r === "string" &&
        typeof claims.i === "string" &&
        typeof claims.e === "number"
        ? (claims as Claims)
        : null;
    } catch {
      return null;
    }
  }

  return {
    issue(release, image, ttlMs) {
      const claims: Claims = { r: release, i: image, e: clock.now() + ttlMs };
      const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
      const ca = options.ca?.();
      return {
        url: `${options.baseUrl().replace(/\/+$/, "")}/v1/releases/${release}/artifact`,
        token: `${PREFIX}${payload}.${mac(payload)}`,
        ...(ca ? { ca } : {}),
      };
    },

    async check(token, method, path) {
      const claims = claimsOf(token);
      if (!claims || (method !== "GET" && method !== "HEAD")) return null;
      if (ARTIFACT_PATH.exec(path)?.[1] !== claims.r || clock.now() >= claims.e) return null;
      return (await baking(claims.i)) ? `bake:${claims.i}` : null;
    },
  };
}
