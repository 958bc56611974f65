import { StrataError, messageOf, type ErrorCode, type WireError } from "../lib/errors.js";
import { requestText } from "../lib/http-request.js";
import type {
  AgentReport,
  DesiredState,
  Heartbeat,
  HeartbeatResponse,
  JoinRequest,
  JoinResponse,
  TokenRotation,
} from "../wire/agent.js";

/**
 * The agent's side of the control plane API. Every method throws a
 * StrataError: `unauthorized` (rejoin), `unavailable` (network, retry) or the
 * server's own `{ code, message }`. Methods may run concurrently.
 */
export interface ControlPlaneClient {
  /** Registers the agent with a join token (no bearer). Called at first start and after a 401. */
  join(request: JoinRequest, signal?: AbortSignal): Promise<JoinResponse>;
  /** Long poll: answers at once when the generation differs from `after`, else within `waitSeconds`. */
  desired(after: number, waitSeconds: number, signal?: AbortSignal): Promise<DesiredState>;
  report(report: AgentReport, signal?: AbortSignal): Promise<void>;
  /** Undefined from a control plane that predates rotation (204). */
  heartbeat(heartbeat: Heartbeat, signal?: AbortSignal): Promise<HeartbeatResponse | undefined>;
  /** A new agent token; the current one works until the new one is first used. */
  rotateToken(signal?: AbortSignal): Promise<TokenRotation>;
  /** Bearer token used from now on (after a join). */
  setToken(token: string): void;
  /** Current bearer token, for artifact downloads. */
  readonly token: string | null;
}

export interface ControlPlaneClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  server: string;
  token?: string;
  /** PEM of the CA to trust for an https server (strata's own, pinned at launch). */
  ca?: string;
}

export function createControlPlaneClient(options: ControlPlaneClientOptions): ControlPlaneClient {
  const base = options.server.replace(/\/+$/, "");
  let token = options.token ?? null;

  async function call<T>(method: string, path: string, body: unknown, signal?: AbortSignal) {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token && path !== "/v1/agents/join") headers.authorization = `Bearer ${token}`;
    let res: { status: number; text: string };
    try {
      res = await requestText({
        method,
        url: base + path,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(options.ca ? { ca: options.ca } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const why = messageOf(err);
      throw new StrataError("unavailable", `[agent] ${method} ${base}${path}: ${why}`, {
        cause: err,
      });
    }
    const { status, text } = res;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    let wire: WireError | undefined;
    try {
      wire = (JSON.parse(text) as { error?: WireError }).error;
    } catch {
      wire = undefined;
    }
    const code: ErrorCode =
      status === 401 ? "unauthorized" : status >= 500 ? "unavailable" : "internal";
    throw new StrataError(
      wire?.code ?? code,
      wire?.message ?? `[agent] ${method} ${path}: HTTP ${status}`,
    );
  }

  return {
    join: (request, signal) => call<JoinResponse>("POST", "/v1/agents/join", request, signal),
    desired: (after, waitSeconds, signal) =>
      call<DesiredState>(
        "GET",
        `/v1/agents/desired?after=${after}&wait=${waitSeconds}`,
        undefined,
        signal,
      ),
    report: (report, signal) => call<void>("POST", "/v1/agents/report", report, signal),
    heartbeat: (heartbeat, signal) =>
      call<HeartbeatResponse | undefined>("POST", "/v1/agents/heartbeat", heartbeat, signal),
    rotateToken: (signal) => call<TokenRotation>("POST", "/v1/agents/token", undefined, signal),
    setToken(next) {
      token = next;
    },
    get token() {
      return token;
    },
  };
}
