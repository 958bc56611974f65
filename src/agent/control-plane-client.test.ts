import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createControlPlaneClient } from "./control-plane-client.js";
import { recordingServer, type RecordingServer } from "../lib/test-support.js";

describe("createControlPlaneClient", () => {
  let server: RecordingServer;
  let base: string;

  before(async () => {
    server = await recordingServer();
    base = server.base;
  });
  after(() => server.close());

  test("joins without a bearer, then sends the per-agent token", async () => {
    server.seen = [];
    server.respond = (req, res) => {
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
      server.seen.map((r) => [r.method, r.url, r.auth]),
      [
        ["POST", "/v1/agents/join", undefined],
        ["GET", "/v1/agents/desired?after=2&wait=25", "Bearer tok-1"],
        ["POST", "/v1/agents/heartbeat", "Bearer tok-1"],
      ],
    );
    assert.deepEqual(JSON.parse(server.seen[0]!.body), {
      join_token: "jt",
      name: "a",
      group: "g",
      address: "127.0.0.2",
    });
  });

  test("errors carry the server's code and message, or a code from the status", async () => {
    const client = createControlPlaneClient({ server: base, token: "t" });
    server.respond = (_req, res) =>
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
    server.respond = (_req, res) => void res.writeHead(401).end();
    await assert.rejects(client.desired(0, 1), { code: "unauthorized" });
    server.respond = (_req, res) => void res.writeHead(502).end("<html>bad gateway</html>");
    await assert.rejects(client.desired(0, 1), { code: "unavailable", message: /HTTP 502/ });
  });

  test("an unreachable server is `unavailable`", async () => {
    const closed = await recordingServer();
    await closed.close();
    const client = createControlPlaneClient({ server: closed.base });
    await assert.rejects(client.desired(0, 1), { code: "unavailable", message: /ECONNREFUSED/ });
  });
});
