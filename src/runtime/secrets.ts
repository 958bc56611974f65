import { messageOf, StrataError } from "../lib/errors.js";
import { tlsOptions } from "../lib/tls-fetch.js";
import type { AgentSecrets } from "../wire/secrets.js";

/** The app's secrets, fetched at each start; kept in memory only, never on the server's disk. */
export type SecretSource = () => Promise<Record<string, string>>;

export interface FetchSecretsOptions {
  /** Control plane URL. */
  server: string;
  /** The agent's own token, once it has joined. */
  token: () => string | null | undefined;
  /** PEM of the CA an https control plane's certificate must chain to. */
  ca?: string;
  /** @default 10000 */
  timeoutMs?: number;
}

/** `GET /v1/agents/secrets` over the agent's authenticated channel. */
export function fetchSecrets(options: FetchSecretsOptions): SecretSource {
  return async () => {
    const token = options.token();
    if (!token) throw new StrataError("unauthorized", "[agent] secrets: not joined yet");
    const url = options.server.replace(/\/+$/, "") + "/v1/agents/secrets";
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
        ...(await tlsOptions(options.ca)),
      } as RequestInit);
    } catch (err) {
      throw new StrataError("unavailable", `[agent] secrets: ${messageOf(err)}`, { cause: err });
    }
    // A control plane from before secrets existed has none to give.
    if (res.status === 404) return {};
    if (!res.ok) throw new StrataError("unavailable", `[agent] secrets: HTTP ${res.status}`);
    return ((await res.json()) as AgentSecrets).env;
  };
}
