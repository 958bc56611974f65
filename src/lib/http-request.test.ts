import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { KEEP_ALIVE, requestText } from "./http-request.js";
import { recordingServer, type RecordingServer } from "./test-support.js";

describe("requestText: the agent's HTTP calls to the control plane", () => {
  let server: RecordingServer;
  before(async () => {
    server = await recordingServer();
  });
  after(() => server.close());

  test("keeps its connection alive on agents that never cut an idle socket (node's global agent cuts one after 5 s, a long poll waits 25)", async () => {
    server.respond = (_req, res) => res.end("ok");
    const answer = await requestText({ method: "GET", url: `${server.base}v1/agents/desired` });
    assert.deepEqual(answer, { status: 200, text: "ok" });
    const optionsOf = (agent: object) => (agent as { options: { timeout?: number } }).options;
    assert.equal(optionsOf(KEEP_ALIVE.http).timeout, undefined);
    assert.equal(optionsOf(KEEP_ALIVE.https).timeout, undefined);
    const host = new URL(server.base).host;
    const free = Object.entries(KEEP_ALIVE.http.freeSockets).filter(([name]) =>
      name.startsWith(host),
    );
    assert.equal(free.length, 1, "the socket went back to the strata agent's pool");
    for (const [, sockets] of free) for (const socket of sockets ?? []) socket.destroy();
  });

  test("an answer above maxBytes is refused; any status resolves", async () => {
    server.respond = (_req, res) => res.writeHead(503).end("x".repeat(2048));
    await assert.rejects(
      requestText({ method: "GET", url: server.base, maxBytes: 1024 }),
      /larger than 1024 bytes/,
    );
    server.respond = (_req, res) => res.writeHead(503).end("busy");
    assert.deepEqual(await requestText({ method: "GET", url: server.base }), {
      status: 503,
      text: "busy",
    });
  });
});
