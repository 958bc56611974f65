import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

export interface TextRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM of the CA to trust for https (strata's own, pinned); else the system's. */
  ca?: string;
  signal?: AbortSignal;
  /** Gives up when no answer (or no byte of it) came for this long. @default none */
  timeoutMs?: number;
  /** Rejects an answer larger than this. @default 16 MiB */
  maxBytes?: number;
}

export interface TextAnswer {
  status: number;
  text: string;
}

/** Thrown for a request that got no answer: `code` is the system's (ECONNREFUSED, ...) where there is one. */
export class RequestFailed extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Connections kept alive between calls, with no idle timeout: node's global
 * agents cut a socket after 5 s without a byte, which would end every long
 * poll that waits longer (`GET /v1/agents/desired?wait=25`).
 */
export const KEEP_ALIVE = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/**
 * One HTTP(S) request with node's own http client, its answer read whole as
 * text. For the agent's calls to the control plane: unlike `fetch`, whose
 * first call in a process loads undici (tens of ms, on a server's boot path),
 * http is part of node's start, and it takes a pinned CA as it is. Rejects
 * with RequestFailed when there is no answer, with `signal.reason` when
 * aborted; any status resolves.
 */
export function requestText(req: TextRequest): Promise<TextAnswer> {
  const url = new URL(req.url);
  const secure = url.protocol === "https:";
  const request = secure ? httpsRequest : httpRequest;
  const maxBytes = req.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers };
    if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
    const fail = (err: Error) => {
      if (req.signal?.aborted) return reject(req.signal.reason);
      const code = (err as NodeJS.ErrnoException).code;
      reject(new RequestFailed(code ?? err.message, code));
    };
    const sent = request(
      url,
      {
        method: req.method,
        headers,
        agent: secure ? KEEP_ALIVE.https : KEEP_ALIVE.http,
        ...(req.ca ? { ca: req.ca } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        ...(req.timeoutMs ? { timeout: req.timeoutMs } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes)
            res.destroy(new Error(`the answer is larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on("error", fail);
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    if (req.timeoutMs) sent.on("timeout", () => sent.destroy(new Error("no answer in time")));
    sent.on("error", fail);
    sent.end(req.body);
  });
}
