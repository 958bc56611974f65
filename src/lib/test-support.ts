// Helpers shared by the agent's tests (not used by the agent itself).
import { createServer, get, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { processAlive } from "./process.js";

/** A loopback address unlikely to clash with other tests on this machine. */
export function randomLoopback(): string {
  const part = () => 2 + Math.floor(Math.random() * 248);
  return `127.0.${part()}.${part()}`;
}

export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

/** Alive and not a zombie waiting for a reaper (containers may lack one). */
export const isAlive = processAlive;

/** Polls until `check` returns a truthy value; gives up (throws) after `limitMs` so a broken test cannot hang. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  limitMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Status of GET `path` on `host:port`; 0 when nothing answers. */
export function httpStatus(host: string, port: number, path = "/"): Promise<number> {
  return new Promise((resolve) => {
    get({ host, port, path, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", () => resolve(0));
  });
}

export interface SeenRequest {
  method: string;
  url: string;
  body: string;
  type?: string;
  auth?: string;
}

/** An HTTP server on a random loopback address: records every request, answers with `respond`. */
export interface RecordingServer {
  /** `http://<address>:<port>/` */
  base: string;
  seen: SeenRequest[];
  respond: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

export async function recordingServer(): Promise<RecordingServer> {
  const server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const { "content-type": type, authorization: auth } = req.headers;
    recording.seen.push({
      method: req.method!,
      url: req.url!,
      body,
      ...(type && { type }),
      ...(auth && { auth }),
    });
    recording.respond(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
  const { address, port } = server.address() as AddressInfo;
  const recording: RecordingServer = {
    base: `http://${address}:${port}/`,
    seen: [],
    respond: (_req, res) => void res.writeHead(404).end(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return recording;
}
