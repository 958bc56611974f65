import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import { allowed } from "./access.js";
import { startControlPlane, type ControlPlane } from "./control-plane.js";

const octet = () => 10 + Math.floor(Math.random() * 240);

test("roles: what each may do", () => {
  const cases: [Parameters<typeof allowed>[0], string, string, boolean][] = [
    ["viewer", "GET", "/v1/status", true],
    ["viewer", "GET", "/v1/tokens", false],
    ["viewer", "POST", "/v1/deployments", false],
    ["deployer", "POST", "/v1/deployments", true],
    ["deployer", "POST", "/v1/rollbacks", true],
    ["deployer", "POST", "/v1/releases", true],
    ["deployer", "POST", "/v1/images/bakes", true],
    ["deployer", "POST", "/v1/fleet/down", false],
    ["deployer", "POST", "/v1/tokens", false],
    ["deployer", "DELETE", "/v1/tokens/ci", false],
    ["admin", "POST", "/v1/fleet/down", true],
  ];
  for (const [role, method, path, expected] of cases)
    assert.equal(allowed(role, method, path), expected, `${role} ${method} ${path}`);
});

describe("API tokens by role, revocable, named in the audit log", () => {
  let plane: ControlPlane;
  let dir: string;
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-access-"));
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

  async function create(name: string, role: string): Promise<string> {
    const res = await plane.api.request("/v1/tokens", {
      method: "POST",
      headers: as(plane.adminToken),
      body: JSON.stringify({ name, role }),
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { token: string }).token;
  }

  test("a viewer reads, a deployer deploys, neither runs the fleet; revoked means refused", async () => {
    const viewer = await create("dash", "viewer");
    const deployer = await create("ci", "deployer");
    assert.equal((await plane.api.request("/v1/status", { headers: as(viewer) })).status, 200);
    const deploy = (token: string) =>
      plane.api.request("/v1/deployments", {
        method: "POST",
        headers: as(token),
        body: JSON.stringify({ app: "hello", version: "9.9.9", group: "web" }),
      });
    assert.equal((await deploy(viewer)).status, 403);
    assert.equal((await deploy(deployer)).status, 404, "allowed, and then: no such release");
    const down = await plane.api.request("/v1/fleet/down", {
      method: "POST",
      headers: as(deployer),
      body: JSON.stringify({ all: true }),
    });
    assert.equal(down.status, 403);
    const list = await plane.api.request("/v1/tokens", { headers: as(plane.adminToken) });
    const body = JSON.stringify(await list.json());
    assert.ok(body.includes('"ci"') && !body.includes(deployer), "listed, value never shown");
    const revoked = await plane.api.request("/v1/tokens/ci", {
      method: "DELETE",
      headers: as(plane.adminToken),
    });
    assert.equal(revoked.status, 200);
    assert.equal((await deploy(deployer)).status, 401);
    const entries = await plane.store.audit.list({ subject: "ci" });
    assert.deepEqual(
      entries.map((e) => [e.action, e.actor]),
      [
        ["token.revoke", "admin"],
        ["token.create", "admin"],
      ],
    );
  });
});
