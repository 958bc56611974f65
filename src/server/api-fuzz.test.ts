import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import { startControlPlane, type ControlPlane } from "./control-plane.js";

const octet = () => 10 + Math.floor(Math.random() * 240);
const RELEASE = `sha256:${"a".repeat(64)}`;

/** Bodies that are not what any route takes (issue 8, defect 6: each was a 500 or worse). */
const MALFORMED: (string | null)[] = [
  '{"app":',
  "null",
  "[]",
  '"x"',
  "1",
  "true",
  '{"__proto__":{"x":1}}',
  '{"app":1,"version":[],"group":{},"count":"x","name":"../../../tmp/evil"}',
  '{"group":"web","count":1e9}',
  "\u0000\u00ff\u00fe",
];

describe("every API route refuses malformed input with a 4xx and the control plane stays up", () => {
  let plane: ControlPlane;
  let dir: string;
  let agentToken: string;
  const admin = () => ({ authorization: `Bearer ${plane.adminToken}` });
  const agent = () => ({ authorization: `Bearer ${agentToken}` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-fuzz-"));
    const host = `127.${octet()}.${octet()}.1`;
    const config = parseServerConfig(`balancer: { host: "${host}" }`, "test", {
      dataDir: dir,
      listen: `${host}:0`,
    });
    plane = await startControlPlane({ config });
    agentToken = await joinAs("manual-1", "127.0.0.9");
  });
  after(async () => {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function issue(name: string, address?: string): Promise<string> {
    const res = await plane.api.request("/v1/tokens/join", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name, group: "web", ...(address ? { address } : {}) }),
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { join_token: string }).join_token;
  }

  async function joinAs(name: string, address: string, token?: string): Promise<string> {
    const res = await plane.api.request("/v1/agents/join", {
      method: "POST",
      headers: { authorization: `Bearer ${token ?? (await issue(name, address))}` },
      body: JSON.stringify({ name, group: "web", address }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { token: string }).token;
  }

  async function healthy(): Promise<void> {
    assert.equal((await plane.api.request("/v1/health")).status, 200);
    assert.equal((await plane.api.request("/v1/status", { headers: admin() })).status, 200);
  }

  test("malformed and mistyped bodies on every POST/PUT/PATCH route are 4xx, never 5xx", async () => {
    const routes = plane.api.routes.filter(
      (r) => ["POST", "PUT", "PATCH"].includes(r.method) && r.path.startsWith("/v1/"),
    );
    assert.ok(routes.length >= 10, `found ${routes.length} routes`);
    for (const route of routes) {
      const path = route.path
        .replace(":app", "hello")
        .replace(":group", "web")
        .replace(":server", "manual-1")
        .replace(":id", "1");
      for (const body of MALFORMED) {
        const headers = path.startsWith("/v1/agents/") ? agent() : admin();
        const res = await plane.api.request(path, {
          method: route.method,
          headers: { ...headers, "content-type": "application/json" },
          ...(body === null ? {} : { body }),
        });
        assert.ok(
          res.status >= 400 && res.status < 500,
          `${route.method} ${path} with ${JSON.stringify(body)}: ${res.status} ${await res.text()}`,
        );
      }
    }
    await healthy();
  });

  test("bogus query strings on every GET route are 4xx or answered, never 5xx", async () => {
    const routes = plane.api.routes.filter((r) => r.method === "GET" && r.path.startsWith("/v1/"));
    for (const route of routes) {
      const path = route.path.replace(/:[a-z]+/g, "..%2F..%2Fx");
      const query = "?limit=abc&group=..%2Fx&after=x&wait=-1&from=nope&to=1&step=year&key=";
      const headers = path.startsWith("/v1/agents/") ? agent() : admin();
      const res = await plane.api.request(path + query, { headers });
      assert.ok(res.status < 500, `GET ${path}${query}: ${res.status} ${await res.text()}`);
    }
    await healthy();
  });

  // Regression (issue 8, defect 1): app_port "x" was stored and the next balanced request killed the process.
  test("a heartbeat with a bad port or a mistyped field is refused and stores nothing", async () => {
    for (const hb of [
      { current_release: null, app_healthy: true, app_port: "x" },
      { current_release: null, app_healthy: true, app_port: 70_000 },
      { current_release: null, app_healthy: "yes", app_port: 8080 },
      { current_release: "../etc", app_healthy: true, app_port: 8080 },
    ]) {
      const res = await plane.api.request("/v1/agents/heartbeat", {
        method: "POST",
        headers: agent(),
        body: JSON.stringify(hb),
      });
      assert.equal(res.status, 400, JSON.stringify(hb));
      const { error } = (await res.json()) as { error: { message: string } };
      assert.match(
        error.message,
        /^\[server\] heartbeat: (app_port|app_healthy|current_release): /,
      );
    }
    const server = await plane.store.servers.get("manual-1");
    assert.equal(server?.app_port, null);
    assert.equal(server?.app_healthy, false);
    const ok = await plane.api.request("/v1/agents/heartbeat", {
      method: "POST",
      headers: agent(),
      body: JSON.stringify({ current_release: RELEASE, app_healthy: false, app_port: 8080 }),
    });
    assert.equal(ok.status, 200);
  });

  // Regression (issue 8, defect 6): `POST /v1/fleet/down` with `[]` terminated every server.
  test("fleet down needs a group or an explicit all", async () => {
    for (const body of ["[]", "{}", '{"group":null}', '{"all":false}']) {
      const res = await plane.api.request("/v1/fleet/down", {
        method: "POST",
        headers: admin(),
        body,
      });
      assert.equal(res.status, 400, body);
    }
    assert.equal((await plane.store.servers.get("manual-1"))?.state !== "terminated", true);
  });

  // Regression (issue 8, defect 5): a 400 MB unauthenticated join body was buffered before the token check.
  test("bodies are capped: an announced or streamed oversize body is 413 before it is all read", async () => {
    const announced = await plane.api.request("/v1/agents/join", {
      method: "POST",
      headers: { "content-length": String(400 * 1024 * 1024) },
      body: "{}",
    });
    assert.equal(announced.status, 413);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 64 * 1024 * 1024) return controller.close();
        sent += 1024 * 1024;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
      },
    });
    const streamed = await plane.api.request("/v1/agents/report", {
      method: "POST",
      headers: agent(),
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.ok(sent < 8 * 1024 * 1024, `read ${sent} bytes before refusing`);
    const wrongToken = await plane.api.request("/v1/agents/join", {
      method: "POST",
      headers: { authorization: "Bearer nope" },
      body: "x".repeat(1024 * 1024),
    });
    assert.equal(wrongToken.status, 401, "a bad join token is refused before the body is read");
  });
});

// Regression (issue 8, defect 2): the join token let its holder become any server.
describe("server identity: a join token is bound to the instance it was issued for", () => {
  let plane: ControlPlane;
  let dir: string;
  const admin = () => ({ authorization: `Bearer ${plane.adminToken}` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-identity-"));
    const host = `127.${octet()}.${octet()}.1`;
    const config = parseServerConfig(`balancer: { host: "${host}" }`, "test", {
      dataDir: dir,
      listen: `${host}:0`,
    });
    plane = await startControlPlane({ config });
  });
  after(async () => {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function issue(name: string, address?: string): Promise<string> {
    const res = await plane.api.request("/v1/tokens/join", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name, group: "web", ...(address ? { address } : {}) }),
    });
    return ((await res.json()) as { join_token: string }).join_token;
  }
  const joinWith = (token: string, name: string, address: string) =>
    plane.api.request("/v1/agents/join", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ name, group: "web", address }),
    });

  const heartbeatWith = (token: string) =>
    plane.api.request("/v1/agents/heartbeat", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ current_release: null, app_healthy: false, app_port: null }),
    });

  test("an issued token joins its server, from its address, until its agent token is used", async () => {
    const token = await issue("web-1", "127.0.0.21");
    assert.equal((await joinWith(token, "web-2", "127.0.0.21")).status, 401, "another name");
    assert.equal((await joinWith(token, "web-1", "127.0.0.99")).status, 401, "another address");
    assert.equal(await plane.store.servers.get("web-2"), null);
    const first = await joinWith(token, "web-1", "127.0.0.21");
    assert.equal(first.status, 200);
    const { token: lost } = (await first.json()) as { token: string };
    // Regression: the join spent its token at once, so an agent killed after the answer but
    // before it saved its agent token could never join again.
    const again = await joinWith(token, "web-1", "127.0.0.21");
    assert.equal(again.status, 200, "joins again while its agent token is unused");
    const { token: agentToken } = (await again.json()) as { token: string };
    assert.equal((await heartbeatWith(lost)).status, 401, "the unsaved token is replaced");
    assert.equal((await heartbeatWith(agentToken)).status, 200, "the saved agent token works");
    assert.equal((await joinWith(token, "web-1", "127.0.0.21")).status, 401, "spent by that use");
    assert.equal((await heartbeatWith(agentToken)).status, 200, "and keeps working");
  });

  test("the cluster token is off by default and never takes over a joined server", async () => {
    assert.equal((await joinWith(plane.joinToken, "web-9", "127.0.0.29")).status, 401);
    assert.equal(
      (await joinWith(plane.joinToken, "../../../tmp/evil", "127.0.0.30")).status,
      401,
      "the token is checked before the body is read",
    );
    const evil = await joinWith(await issue("web-5"), "../../../tmp/evil", "127.0.0.30");
    assert.equal(evil.status, 400, "a name that is a path is refused");
    const again = await plane.api.request("/v1/tokens/join", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name: "web-1", group: "web" }),
    });
    assert.equal(again.status, 409, "a joined server gets no new join token");
  });
});
