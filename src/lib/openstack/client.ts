import { codeOfStatus, faultOf, OpenStackError } from "./errors.js";
import type { Cloud } from "./clouds.js";

/** Catalog service types strata talks to. */
export type ServiceType = "identity" | "compute" | "image" | "load-balancer";

export interface OpenStackClientOptions {
  cloud: Cloud;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default Date.now */
  now?: () => number;
  /** A token is renewed this long before its `expires_at`. @default 120000 */
  refreshMarginMs?: number;
  /** Tries per request when the answer is retryable (409, 5xx, connection refused). @default 5 */
  attempts?: number;
  /** First wait between tries, doubled after each up to 8 s (Retry-After wins when given). @default 250 */
  backoffMs?: number;
  /** Longest wait for one answer. @default 30000 */
  timeoutMs?: number;
  /**
   * Compute API microversion sent on every compute request. 2.52 is the
   * lowest that gives what strata uses: `networks: "none"` (2.37), the image id
   * in createImage's answer (2.45) and tags at create (2.52).
   * @default "2.52"
   */
  computeMicroversion?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (image data); `contentType` names it. */
  raw?: Uint8Array;
  contentType?: string;
  headers?: Record<string, string>;
  /** Statuses returned instead of thrown (e.g. 404 while waiting for a delete). */
  accept?: number[];
  /** Retry 409 answers with backoff (an Octavia load balancer in PENDING_UPDATE). @default true */
  retryConflict?: boolean;
}

export interface OpenStackResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON, or null for an empty or non-JSON body. */
  body: T;
  requestId: string | null;
}

/** A Keystone-authenticated HTTP client for one cloud. Safe for concurrent use. */
export interface OpenStackClient {
  readonly cloud: Cloud;
  /** The scoped project's id. */
  projectId(): Promise<string | null>;
  /** A valid token (renewed when it is within the refresh margin of `expires_at`). */
  token(): Promise<string>;
  /** The endpoint of a service (catalog: type, the cloud's interface and region), without a trailing slash. */
  endpoint(service: ServiceType): Promise<string>;
  /** One request; `path` is relative to the service's endpoint (or an absolute `next` link). */
  request<T = unknown>(
    service: ServiceType,
    method: string,
    path: string,
    options?: RequestOptions,
  ): Promise<OpenStackResponse<T>>;
  /**
   * Every item of a collection, following `<key>_links` rel=next (Nova,
   * Octavia) or `next` (Glance) links until the last page.
   */
  list<T>(
    service: ServiceType,
    path: string,
    key: string,
    query?: RequestOptions["query"],
  ): Promise<T[]>;
}

interface CatalogEntry {
  type: string;
  endpoints: { interface: string; region_id?: string; region?: string; url: string }[];
}

interface Token {
  value: string;
  expiresAt: number;
  catalog: CatalogEntry[];
  projectId: string | null;
}

const REQUEST_ID_HEADERS = [
  "x-openstack-request-id",
  "x-compute-request-id",
  "openstack-request-id",
];
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);
/** Versioned path the catalog's unversioned endpoints need. */
const VERSION_SUFFIX: Partial<Record<ServiceType, string>> = {
  image: "/v2",
  "load-balancer": "/v2",
};

export function createOpenStackClient(options: OpenStackClientOptions): OpenStackClient {
  const { cloud } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 120_000;
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 250;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const microversion = options.computeMicroversion ?? "2.52";
  const authUrl = cloud.auth.auth_url.replace(/\/+$/, "").replace(/(\/v3)?$/, "/v3");
  let token: Token | null = null;
  let authenticating: Promise<Token> | null = null;

  const requestIdOf = (headers: Headers) => {
    for (const name of REQUEST_ID_HEADERS) {
      const value = headers.get(name);
      if (value) return value;
    }
    return null;
  };
  const prefix = (service: string) => `[openstack] cloud ${cloud.name}: ${service}`;

  function authBody(): unknown {
    const a = cloud.auth;
    if (cloud.auth_type === "v3applicationcredential") {
      const credential = a.application_credential_id
        ? { id: a.application_credential_id, secret: a.application_credential_secret }
        : {
            name: a.application_credential_name,
            secret: a.application_credential_secret,
            user: userRef(),
          };
      return {
        auth: {
          identity: { methods: ["application_credential"], application_credential: credential },
        },
      };
    }
    const scope = a.project_id
      ? { project: { id: a.project_id } }
      : a.project_name
        ? {
            project: {
              name: a.project_name,
              domain: a.project_domain_id
                ? { id: a.project_domain_id }
                : { name: a.project_domain_name ?? a.domain_name ?? "Default" },
            },
          }
        : undefined;
    return {
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { ...userRef(), password: a.password } },
        },
        ...(scope ? { scope } : {}),
      },
    };
  }

  function userRef(): Record<string, unknown> {
    const a = cloud.auth;
    if (a.user_id) return { id: a.user_id };
    return {
      name: a.username,
      domain: a.user_domain_id
        ? { id: a.user_domain_id }
        : { name: a.user_domain_name ?? a.domain_name ?? "Default" },
    };
  }

  async function authenticate(): Promise<Token> {
    const response = await send(
      "identity",
      "POST",
      `${authUrl}/auth/tokens`,
      { body: authBody(), retryConflict: false },
      null,
    );
    const subject = response.headers.get("x-subject-token");
    const body = response.body as {
      token?: { expires_at?: string; catalog?: CatalogEntry[]; project?: { id: string } };
    };
    if (!subject || !body?.token?.expires_at) {
      throw new OpenStackError(
        "internal",
        `${prefix("identity")}: POST /auth/tokens: no X-Subject-Token or expires_at in the answer (request ${response.requestId ?? "without id"})`,
        {
          cloud: cloud.name,
          service: "identity",
          status: response.status,
          requestId: response.requestId,
        },
      );
    }
    return {
      value: subject,
      expiresAt: Date.parse(body.token.expires_at),
      catalog: body.token.catalog ?? [],
      projectId: body.token.project?.id ?? null,
    };
  }

  async function currentToken(): Promise<Token> {
    if (token && now() < token.expiresAt - margin) return token;
    authenticating ??= authenticate().then(
      (fresh) => {
        token = fresh;
        authenticating = null;
        return fresh;
      },
      (err: unknown) => {
        authenticating = null;
        throw err;
      },
    );
    return authenticating;
  }

  async function endpoint(service: ServiceType): Promise<string> {
    const override = cloud.endpoint_override[service];
    if (override) return override.replace(/\/+$/, "");
    if (service === "identity") return authUrl;
    const { catalog } = await currentToken();
    const entry = catalog.find((e) => e.type === service);
    const candidates = (entry?.endpoints ?? []).filter(
      (e) =>
        e.interface === cloud.interface &&
        (!cloud.region_name || (e.region_id ?? e.region) === cloud.region_name),
    );
    const found = candidates[0];
    if (!found) {
      throw new OpenStackError(
        "invalid_config",
        `${prefix(service)}: no ${cloud.interface} endpoint${cloud.region_name ? ` in region ${cloud.region_name}` : ""} in the catalog`,
        { cloud: cloud.name, service, status: 0, requestId: null },
      );
    }
    const url = found.url.replace(/\/+$/, "");
    const suffix = VERSION_SUFFIX[service];
    return suffix && !url.endsWith(suffix) ? url + suffix : url;
  }

  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Sends with retries; `auth` null sends no token (the token request itself). */
  async function send(
    service: ServiceType,
    method: string,
    url: string,
    options: RequestOptions,
    auth: (() => Promise<Token>) | null,
  ): Promise<OpenStackResponse> {
    const shown = `${method} ${url.replace(/^https?:\/\/[^/]+/, "").replace(/\?.*$/, "")}`;
    let renewed = false;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { accept: "application/json", ...options.headers };
      if (auth) headers["x-auth-token"] = (await auth()).value;
      if (service === "compute") {
        headers["openstack-api-version"] = `compute ${microversion}`;
        headers["x-openstack-nova-api-version"] = microversion;
      }
      let body: Uint8Array | string | undefined;
      if (options.raw) {
        body = options.raw;
        headers["content-type"] = options.contentType ?? "application/octet-stream";
      } else if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers["content-type"] ??= "application/json";
      }
      let response: Response;
      try {
        response = await doFetch(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause;
        const refused = cause?.code === "ECONNREFUSED";
        if ((refused || IDEMPOTENT.has(method)) && attempt < attempts) {
          await wait(delay(attempt, null));
          continue;
        }
        const timedOut = (err as Error).name === "TimeoutError";
        throw new OpenStackError(
          timedOut ? "timeout" : "unavailable",
          `${prefix(service)}: ${shown}: ${timedOut ? `no answer within ${timeoutMs} ms` : `unreachable at ${new URL(url).origin} (${cause?.code ?? (err as Error).message})`} after ${attempt} tries (no request id: no answer)`,
          { cloud: cloud.name, service, status: 0, requestId: null },
          { cause: err },
        );
      }
      const requestId = requestIdOf(response.headers);
      const text = await response.text();
      if (response.ok || options.accept?.includes(response.status)) {
        let parsed: unknown = null;
        if (text && (response.headers.get("content-type") ?? "").includes("json"))
          parsed = JSON.parse(text);
        return { status: response.status, headers: response.headers, body: parsed, requestId };
      }
      const status = response.status;
      if (status === 401 && auth && !renewed) {
        // An expired or revoked token: authenticate again once, then resend.
        renewed = true;
        token = null;
        attempt--;
        continue;
      }
      const retryable =
        (status === 409 && options.retryConflict !== false) ||
        (status >= 500 && (IDEMPOTENT.has(method) || status === 503));
      if (retryable && attempt < attempts) {
        await wait(delay(attempt, response.headers.get("retry-after")));
        continue;
      }
      const hint =
        status === 401 && !auth
          ? ` (check the credentials of cloud ${cloud.name} in ${cloud.source})`
          : "";
      throw new OpenStackError(
        codeOfStatus(status),
        `${prefix(service)}: ${shown}: ${status} ${faultOf(text)}${hint} (request ${requestId ?? "without id"})`,
        { cloud: cloud.name, service, status, requestId },
      );
    }
  }

  function delay(attempt: number, retryAfter: string | null): number {
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, 30_000);
    const base = Math.min(backoffMs * 2 ** (attempt - 1), 8_000);
    return base / 2 + Math.random() * (base / 2);
  }

  async function request<T>(
    service: ServiceType,
    method: string,
    path: string,
    requestOptions: RequestOptions = {},
  ): Promise<OpenStackResponse<T>> {
    let url = /^https?:/.test(path) ? path : (await endpoint(service)) + path;
    const query = Object.entries(requestOptions.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length > 0) {
      const params = new URLSearchParams(query.map(([k, v]): [string, string] => [k, String(v)]));
      url += (url.includes("?") ? "&" : "?") + params.toString();
    }
    return (await send(service, method, url, requestOptions, currentToken)) as OpenStackResponse<T>;
  }

  return {
    cloud,
    async projectId() {
      return (await currentToken()).projectId;
    },
    async token() {
      return (await currentToken()).value;
    },
    endpoint,
    request,
    async list<T>(
      service: ServiceType,
      path: string,
      key: string,
      query?: RequestOptions["query"],
    ) {
      const items: T[] = [];
      let next: string | null = path;
      let first = true;
      while (next) {
        const page: OpenStackResponse<Record<string, unknown>> = await request<
          Record<string, unknown>
        >(service, "GET", next, first ? { ...(query ? { query } : {}) } : {});
        first = false;
        items.push(...((page.body?.[key] as T[] | undefined) ?? []));
        const links = page.body?.[`${key}_links`] as { rel: string; href: string }[] | undefined;
        const href =
          links?.find((l) => l.rel === "next")?.href ??
          (page.body?.next as string | undefined) ??
          null;
        if (!href) next = null;
        else if (/^https?:/.test(href)) next = href;
        else {
          // Glance's `next` is absolute-path relative to its unversioned root (`/v2/images?marker=...`).
          const base = await endpoint(service);
          next =
            new URL(base).origin +
            base.replace(/^https?:\/\/[^/]+/, "").replace(/\/v2$/, "") +
            href;
        }
      }
      return items;
    },
  };
}
