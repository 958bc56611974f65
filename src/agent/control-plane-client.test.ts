import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createControlPlaneClient } from "./control-plane-client.js";
import { randomLoopback } from "../lib/test-support.js";

describe("createControlPlaneClient", () => {
  let server: Server;
  let base: string;
  let seen: Array<{ method: string; url: string; auth?: string; body: string }> = [];
  let respond: (req: IncomingMessage, res: ServerResponse) => void;

  before(async () => {
    server = createServer(async (req, res) => {
      let body = "";
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      respond(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
    const { address, port } = server.address() as AddressInfo;
    base = `http://${address}:${port}/`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("joins without a bearer, then sends the per-agent token", async () => {
    seen = [];
    respond = (req, res) => {
      if (req.url === "/v1/agents/join") return void res.end('{"server":"s","token":"tok-1"}');
      if (req.url?.startsWith("/v1/agents/desired")) {
        return void res.end('{"generation":3,"release":null}');
      }
      res.writeHead(204).end();
    };
    const client = createControlPlaneClient({ server: base, token: "old" });
    const joined = await client.join({
      join_token: "jt",
      name: "a",
      group: "g",
      address: "127.0.0.2",
    });
    client.setToken(joined.token);
    assert.deepEqual(await client.desired(2, 25), { generation: 3, release: null });
    await client.heartbeat({ current_release: null, app_healthy: false, app_port: null });
    assert.deepEqual(
      seen.map((r) => [r.method, r.url, r.auth]),
      [
        ["POST", "/v1/agents/join", undefined],
        ["GET", "/v1/agents/desired?after=2&wait=25", "Bearer tok-1"],
        ["POST", "/v1/agents/heartbeat", "Bearer tok-1"],
      ],
    );
    assert.deepEqual(JSON.parse(seen[0]!.body), {
      join_token: "jt",
      name: "a",
      group: "g",
      address: "127.0.0.2",
    });
  });

  test("errors carry the server's code and message, or a code from the status", async () => {
    const client = createControlPlaneClient({ server: base, token: "t" });
    respond = (_req, res) =>
      void res
        .writeHead(409)
        .end('{"error":{"code":"conflict","message":"[server] stale generation"}}');
    await assert.rejects(
      client.heartbeat({ current_release: null, app_healthy: true, app_port: 1 }),
      {
        code: "conflict",
        message: "[server] stale generation",
      },
    );
    respond = (_req, res) => void res.writeHead(401).end();
    await assert.rejects(client.desired(0, 1), { code: "unauthorized" });
    respond = (_req, res) => void res.writeHead(502).end("<html>bad gateway</html>");
    await assert.rejects(client.desired(0, 1), { code: "unavailable", message: /HTTP 502/ });
  });

  test("an unreachable server is `unavailable`", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, randomLoopback(), resolve));
    const { address, port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const client = createControlPlaneClient({ server: `http://${address}:${port}` });
    await assert.rejects(client.desired(0, 1), { code: "unavailable", message: /ECONNREFUSED/ });
  });
});
