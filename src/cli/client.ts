import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError, type WireError } from "../lib/errors.js";
import { tlsOptions } from "../lib/tls-fetch.js";

/** How the CLI reaches a control plane: flags > env > the data folder of a local `strata server`. */
export interface ClientOptions {
  server?: string;
  token?: string;
  dataDir?: string;
}

export interface ServerInfo {
  url: string;
  pid: number;
  /** strata's CA, when the control plane serves HTTPS. */
  ca_file?: string;
}

export const DEFAULT_DATA_DIR = ".strata";

/** The control plane's HTTP API, as the CLI and tests use it. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string;
  readonly #ca: string | undefined;

  /** `ca`: PEM of the CA to trust for an https URL (strata's own); the system's roots otherwise. */
  constructor(baseUrl: string, token: string, options: { ca?: string } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
    this.#ca = options.ca;
  }

  get token(): string {
    return this.#token;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "content-type": "application/json" },
    });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }

  /** Sends a request and throws a StrataError carrying the server's `{ code, message }` on failure. */
  async raw(
    method: string,
    path: string,
    init: {
      body?: RequestInit["body"];
      headers?: Record<string, string>;
      duplex?: "half";
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        body: init.body ?? null,
        headers: { authorization: `Bearer ${this.#token}`, ...init.headers },
        ...(init.duplex ? { duplex: init.duplex } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
        ...(await tlsOptions(this.#ca)),
      } as RequestInit);
    } catch (err) {
      throw new StrataError(
        "unavailable",
        `[cli] cannot reach the control plane at ${this.baseUrl}: ${causeMessage(err)}`,
        { cause: err },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let wire: WireError | null = null;
      try {
        wire = (JSON.parse(text) as { error?: WireError }).error ?? null;
      } catch {
        wire = null;
      }
      throw new StrataError(
        wire?.code ?? (res.status === 401 ? "unauthorized" : "internal"),
        wire?.message ?? `[cli] ${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`,
      );
    }
    return res;
  }
}

function causeMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/** Reads the URL and admin token a local `strata server` left in its data folder. */
export async function readLocalServer(
  dataDir: string,
): Promise<{ info: ServerInfo; token: string } | null> {
  try {
    const info = JSON.parse(await readFile(join(dataDir, "server.json"), "utf8")) as ServerInfo;
    const token = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
    return { info, token };
  } catch {
    return null;
  }
}

export async function createClient(options: ClientOptions): Promise<ApiClient> {
  const env = process.env;
  // An empty variable counts as unset (`STRATA_SERVER= strata status`).
  let url = options.server ?? (env.STRATA_SERVER || undefined);
  let token = options.token ?? (env.STRATA_TOKEN || undefined);
  let caFile = env.STRATA_CA_FILE || undefined;
  if (!url || !token || !caFile) {
    const dataDir = options.dataDir ?? (env.STRATA_DATA_DIR || DEFAULT_DATA_DIR);
    const local = await readLocalServer(dataDir);
    url ??= local?.info.url;
    token ??= local?.token;
    caFile ??= local?.info.ca_file;
  }
  if (!url) {
    throw new StrataError(
      "unavailable",
      "[cli] no control plane: start `strata server` in this folder, or set STRATA_SERVER (or --server)",
    );
  }
  if (!token) {
    throw new StrataError(
      "unauthorized",
      "[cli] no admin token: set STRATA_TOKEN (or --token), or run from the folder of `strata server`",
    );
  }
  const ca = caFile && url.startsWith("https:") ? await readFile(caFile, "utf8") : undefined;
  return new ApiClient(url, token, ca ? { ca } : {});
}
