import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { createOpenStackClient } from "./client.js";
import type { OpenStackError } from "./errors.js";
import { testbedClient, testbedCloud, testbedSkip } from "./testbed.js";

const skip = testbedSkip();

describe("OpenStack client against the testbed's Keystone, Nova and Glance", { skip }, () => {
  test("password auth scopes a token and finds endpoints in the catalog by type, interface and region", async () => {
    const client = testbedClient();
    assert.match(await client.token(), /^\S{20,}$/);
    assert.ok(await client.projectId());
    assert.equal(await client.endpoint("compute"), "http://127.0.0.1:8774/v2.1");
    assert.equal(await client.endpoint("image"), "http://127.0.0.1:9292/v2");
    const versions = await client.request<{ version: { version: string } }>("compute", "GET", "/");
    assert.ok(versions.requestId?.startsWith("req-"), "Nova names its request");
    const other = createOpenStackClient({ cloud: { ...testbedCloud(), region_name: "Nowhere" } });
    await assert.rejects(
      other.endpoint("compute"),
      /cloud testbed-demo: compute: no public endpoint in region Nowhere/,
    );
  });

  test("an application credential authenticates without a scope", async () => {
    const demo = testbedClient();
    const token = await demo.request<{ token: { user: { id: string } } }>(
      "identity",
      "GET",
      "/auth/tokens",
      {
        headers: { "x-subject-token": await demo.token() },
      },
    );
    const userId = token.body.token.user.id;
    const created = await demo.request<{ application_credential: { id: string; secret: string } }>(
      "identity",
      "POST",
      `/users/${userId}/application_credentials`,
      { body: { application_credential: { name: `strata-test-${Date.now()}` } } },
    );
    const { id, secret } = created.body.application_credential;
    try {
      const client = createOpenStackClient({
        cloud: {
          ...testbedCloud(),
          name: "testbed-appcred",
          auth_type: "v3applicationcredential",
          auth: {
            auth_url: testbedCloud().auth.auth_url,
            application_credential_id: id,
            application_credential_secret: secret,
          },
        },
      });
      assert.equal(await client.projectId(), await demo.projectId());
      assert.equal((await client.request("compute", "GET", "/servers")).status, 200);
    } finally {
      await demo.request("identity", "DELETE", `/users/${userId}/application_credentials/${id}`);
    }
  });

  test("a wrong password gives one message naming the cloud, the service and the request id", async () => {
    const client = createOpenStackClient({ cloud: testbedCloud("demo", { password: "wrong" }) });
    await assert.rejects(client.request("compute", "GET", "/servers"), (err: OpenStackError) => {
      assert.equal(err.code, "unauthorized");
      assert.match(
        err.message,
        /^\[openstack\] cloud testbed-demo: identity: POST \/v3\/auth\/tokens: 401 /,
      );
      assert.match(err.message, /\(request req-[0-9a-f-]+\)$/);
      assert.match(err.message, /check the credentials of cloud testbed-demo/);
      return true;
    });
  });

  test("a revoked token is replaced once and the call goes through", async () => {
    const client = testbedClient();
    const first = await client.token();
    const admin = testbedClient("admin");
    await admin.request("identity", "DELETE", "/auth/tokens", {
      headers: { "x-subject-token": first },
    });
    assert.equal((await client.request("compute", "GET", "/servers")).status, 200);
    assert.notEqual(await client.token(), first);
  });

  test("a token is renewed before its expires_at", async () => {
    let skew = 0;
    const client = testbedClient("demo", { now: () => Date.now() + skew });
    const first = await client.token();
    assert.equal(await client.token(), first, "reused while valid");
    skew = 2 * 3600_000; // Keystone's default token lifetime is one hour
    assert.notEqual(await client.token(), first);
  });

  test("list follows Glance's next links across pages", async () => {
    const client = testbedClient();
    const tag = `strata-page-${Date.now()}`;
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const made = await client.request<{ id: string }>("image", "POST", "/images", {
          body: { name: tag, disk_format: "raw", container_format: "bare" },
        });
        ids.push(made.body.id);
      }
      const listed = await client.list<{ id: string }>("image", "/images", "images", {
        name: tag,
        limit: 1,
      });
      assert.deepEqual(listed.map((i) => i.id).sort(), [...ids].sort());
    } finally {
      for (const id of ids)
        await client.request("image", "DELETE", `/images/${id}`, { accept: [404] });
    }
  });
});

describe("OpenStack client without a cloud behind it", () => {
  test("an unreachable endpoint gives one message naming the cloud and the service", async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.60.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const client = createOpenStackClient({
      cloud: testbedCloud("demo", { auth_url: `http://127.60.0.1:${port}/v3` }),
      attempts: 2,
      backoffMs: 10,
    });
    await assert.rejects(client.request("compute", "GET", "/servers"), (err: OpenStackError) => {
      assert.equal(err.code, "unavailable");
      assert.match(
        err.message,
        /cloud testbed-demo: identity: POST \/v3\/auth\/tokens: unreachable at http:\/\/127\.60\.0\.1:\d+ \(ECONNREFUSED\) after 2 tries/,
      );
      return true;
    });
  });

  test("5xx and 409 answers are retried with backoff; the last one names its request id", async () => {
    // What a cloud under load answers (Nova 503, Octavia 409 while PENDING_UPDATE); the testbed cannot be made to.
    let calls = 0;
    const server = http.createServer((req, res) => {
      calls++;
      if (req.url === "/ok-after-two" && calls <= 2) {
        res.writeHead(calls === 1 ? 503 : 409, { "x-openstack-request-id": `req-${calls}` });
        return void res.end('{"conflict": {"message": "busy"}}');
      }
      if (req.url === "/always-503") {
        res.writeHead(503, {
          "x-openstack-request-id": `req-${calls}`,
          "content-type": "application/json",
        });
        return void res.end('{"computeFault": {"message": "try later"}}');
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.60.0.1", resolve));
    const base = `http://127.60.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // Keystone answers with the documented shape: X-Subject-Token and token.expires_at.
      const fetchOnly = createOpenStackClient({
        cloud: {
          ...testbedCloud("demo", { auth_url: `${base}/v3` }),
          endpoint_override: { compute: base },
        },
        attempts: 3,
        backoffMs: 5,
        fetch: async (url, init) => {
          if (String(url).endsWith("/v3/auth/tokens")) {
            return new Response(
              JSON.stringify({
                token: { expires_at: new Date(Date.now() + 3600_000).toISOString(), catalog: [] },
              }),
              {
                status: 201,
                headers: { "x-subject-token": "t", "content-type": "application/json" },
              },
            );
          }
          return fetch(url, init);
        },
      });
      assert.equal((await fetchOnly.request("compute", "GET", "/ok-after-two")).status, 200);
      assert.equal(calls, 3);
      calls = 0;
      await assert.rejects(
        fetchOnly.request("compute", "GET", "/always-503"),
        (err: OpenStackError) => {
          assert.equal(err.code, "unavailable");
          assert.equal(calls, 3);
          assert.match(err.message, /compute: GET \/always-503: 503 try later \(request req-3\)$/);
          return true;
        },
      );
    } finally {
      server.close();
    }
  });
});
