import type { Database } from "better-sqlite3";
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createDigest } from "../artifact/digest.js";
import { packDirectory } from "../artifact/pack.js";
import { parseServerConfig } from "../config/server-config.js";
import { startControlPlane, type ControlPlane } from "./control-plane.js";

const octet = () => 10 + Math.floor(Math.random() * 240);

describe("HTTP API (in-process requests)", () => {
  let plane: ControlPlane;
  let dir: string;
  let agentToken: string;
  const admin = () => ({ authorization: `Bearer ${plane.adminToken}` });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-api-"));
    const host = `127.${octet()}.${octet()}.1`;
    const config = parseServerConfig(`balancer: { host: "${host}" }`, "test", {
      dataDir: dir,
      listen: `${host}:0`,
    });
    plane = await startControlPlane({ config });
    const issued = await plane.api.request("/v1/tokens/join", {
      method: "POST",
      headers: admin(),
      body: JSON.stringify({ name: "manual-1", group: "web", address: "127.0.0.9" }),
    });
    const { join_token } = (await issued.json()) as { join_token: string };
    const res = await plane.api.request("/v1/agents/join", {
      method: "POST",
      headers: { authorization: `Bearer ${join_token}` },
      body: JSON.stringify({ name: "manual-1", group: "web", address: "127.0.0.9" }),
    });
    agentToken = ((await res.json()) as { token: string }).token;
  });
  after(async () => {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function upload(body: Buffer, id: string, version: string): Promise<Response> {
    return plane.api.request(`/v1/releases?app=hello&version=${version}`, {
      method: "POST",
      body,
      headers: { ...admin(), "x-strata-release-id": id, "x-strata-file-count": "1" },
    });
  }

  test("admin routes need the admin token", async () => {
    const none = await plane.api.request("/v1/status");
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { error: { code: string } }).error.code, "unauthorized");
    const asAgent = await plane.api.request("/v1/status", {
      headers: { authorization: `Bearer ${agentToken}` },
    });
    assert.equal(asAgent.status, 401, "an agent token is not an admin token");
    assert.equal((await plane.api.request("/v1/status", { headers: admin() })).status, 200);
  });

  test("a wrong join token is refused and creates nothing", async () => {
    const res = await plane.api.request("/v1/agents/join", {
      method: "POST",
      body: JSON.stringify({
        join_token: "nope",
        name: "intruder",
        group: "web",
        address: "127.0.0.8",
      }),
    });
    assert.equal(res.status, 401);
    assert.equal(await plane.store.servers.get("intruder"), null);
  });

  // Regression: join and deploy created any group, so a group could exist that bake refuses.
  test("a group name that bake would refuse is refused at join and creates nothing", async () => {
    const res = await plane.api.request("/v1/agents/join", {
      method: "POST",
      body: JSON.stringify({
        join_token: plane.joinToken,
        name: "odd-1",
        group: "Web_1",
        address: "127.0.0.7",
      }),
    });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /group/);
    assert.equal(await plane.store.servers.get("odd-1"), null);
    assert.equal(await plane.store.groups.get("Web_1"), null);
  });

  test("agents long-poll their own desired state", async () => {
    const res = await plane.api.request("/v1/agents/desired?after=-1&wait=0", {
      headers: { authorization: `Bearer ${agentToken}` },
    });
    assert.deepEqual(await res.json(), { generation: 0, release: null });
  });

  test("an upload whose bytes do not match its id is refused and not recorded", async () => {
    const body = Buffer.from("not the tarball you are looking for");
    const wrongId = `sha256:${"0".repeat(64)}`;
    const res = await upload(body, wrongId, "9.9.9");
    assert.equal(res.status, 422);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /checksum/);
    assert.equal(await plane.store.releases.get("hello", "9.9.9"), null);
    assert.equal(await plane.artifacts.has(wrongId), false);
  });

  /** A real release archive of examples/hello, with `message` making its content differ. */
  async function tarball(message: string): Promise<Buffer> {
    const src = join(dir, `src-${message}`);
    await cp(new URL("../../examples/hello/", import.meta.url).pathname, src, { recursive: true });
    await writeFile(join(src, "message.txt"), message);
    return readFile((await packDirectory(src, join(dir, `${message}.tar.gz`))).file);
  }

  test("an upload that is no release archive is refused with 422 and not recorded (issue 8 defect 11)", async () => {
    const body = Buffer.from("pretend tarball");
    const digest = createDigest();
    digest.update(body);
    const res = await upload(body, digest.id(), "6.6.6");
    assert.equal(res.status, 422);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    assert.match(message, /^\[artifact\] verify: the archive: corrupt gzip data/);
    assert.equal(await plane.store.releases.get("hello", "6.6.6"), null);
    assert.equal(await plane.artifacts.has(digest.id()), false);
  });

  test("an upload is stored under its id; the same version with other content is a conflict", async () => {
    const body = await tarball("first");
    const digest = createDigest();
    digest.update(body);
    const ok = await upload(body, digest.id(), "1.0.0");
    assert.equal(ok.status, 201);
    assert.equal(((await ok.json()) as { size: number }).size, body.length);
    const artifact = await plane.api.request(`/v1/releases/${digest.id()}/artifact`, {
      headers: { authorization: `Bearer ${agentToken}` },
    });
    assert.equal(artifact.status, 200, "agents fetch artifacts with their own token");
    assert.deepEqual(Buffer.from(await artifact.arrayBuffer()), body);

    const other = await tarball("other");
    const otherDigest = createDigest();
    otherDigest.update(other);
    const clash = await upload(other, otherDigest.id(), "1.0.0");
    assert.equal(clash.status, 409);
    assert.match(
      ((await clash.json()) as { error: { message: string } }).error.message,
      /hello@1\.0\.0 exists/,
    );
  });

  test("bad upload parameters are named", async () => {
    const res = await upload(Buffer.from("x"), "md5:abc", "1.0.1");
    assert.equal(res.status, 400);
    assert.match(
      ((await res.json()) as { error: { message: string } }).error.message,
      /x-strata-release-id/,
    );
  });

  test("deploy requests are validated before anything starts", async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ app: "hello", version: "7.7.7", group: "web" }, 404, /no release hello@7\.7\.7/],
      [{ app: "hello", version: "1.0.0", group: "web", strategy: "blue-green" }, 400, /strategy/],
      [{ app: "hello", version: "1.0.0", group: "web", batch: "0" }, 400, /batch/],
      [{ app: "hello", version: "1.0.0", group: "web", max_failures: -1 }, 400, /max_failures/],
      [{ app: "hello", version: "1.0.0", group: "Web_1" }, 400, /group: must be lowercase letters/],
    ];
    for (const [body, status, message] of cases) {
      const res = await plane.api.request("/v1/deployments", {
        method: "POST",
        body: JSON.stringify(body),
        headers: admin(),
      });
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(((await res.json()) as { error: { message: string } }).error.message, message);
    }
    assert.deepEqual(await plane.store.deployments.list(), []);
  });

  test("the audit log refuses edits", async () => {
    const db = (plane.store as unknown as { db: Database }).db;
    assert.throws(() => db.prepare("UPDATE audit_log SET action = 'x'").run(), /append-only/);
    assert.throws(() => db.prepare("DELETE FROM audit_log").run(), /append-only/);
  });
});
