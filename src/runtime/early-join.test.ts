import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { recordingServer, type RecordingServer } from "../lib/test-support.js";
import { joinEarly } from "./early-join.js";

describe("the early boot's join (issue 13: service-in from a golden image)", () => {
  let server: RecordingServer;
  let base = "";
  const request = { join_token: "jt", name: "web-7", group: "web", address: "127.82.7.7" };

  before(async () => {
    server = await recordingServer();
    base = server.base;
  });
  after(() => server.close());

  test("sends the agent client's request and resolves with the answer", async () => {
    server.seen = [];
    server.respond = (_req, res) => res.end('{"server":"web-7","token":"tok-7","release_key":"k"}');
    const answer = await joinEarly(base, request);
    assert.deepEqual(answer, { server: "web-7", token: "tok-7", release_key: "k" });
    assert.deepEqual(server.seen, [
      {
        method: "POST",
        url: "/v1/agents/join",
        type: "application/json",
        body: JSON.stringify(request),
      },
    ]);
  });

  test("rejects a refusal, an answer without a token and a closed port, naming the cause", async () => {
    server.respond = (_req, res) =>
      res.writeHead(401).end('{"error":{"code":"unauthorized","message":"expired"}}');
    await assert.rejects(joinEarly(base, request), /early join .*HTTP 401: .*expired/);
    server.respond = (_req, res) => res.end('{"server":"web-7"}');
    await assert.rejects(joinEarly(base, request), /the answer holds no token/);
    server.respond = (_req, res) => res.end("<html>");
    await assert.rejects(joinEarly(base, request), /the answer is not JSON/);
    await assert.rejects(joinEarly("http://127.82.250.1:9", request), /early join .*ECONNREFUSED/);
  });

  test("gives up after its timeout, for the agent to join itself", async () => {
    server.respond = () => undefined; // never answers
    await assert.rejects(joinEarly(base, request, { timeoutMs: 50 }), /no answer in time/);
  });
});
