import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ApiClient, createClient } from "../cli/client.js";
import { parseServerConfig } from "../config/server-config.js";
import { startControlPlane } from "./control-plane.js";
import { ensureTls, isLoopback } from "./tls.js";

const octet = () => 10 + Math.floor(Math.random() * 240);

test("ensureTls makes a CA and a server certificate for the names, keeps them, renews for a new name", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-tls-"));
  try {
    const first = await ensureTls(dir, ["127.0.0.1", "localhost"]);
    const ca = new X509Certificate(first.ca);
    const cert = new X509Certificate(first.cert);
    assert.equal(ca.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(ca.publicKey), "signed by the CA");
    assert.ok(cert.checkIP("127.0.0.1") && cert.checkHost("localhost"));
    assert.equal((await stat(join(dir, "tls", "ca-key.pem"))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, "tls", "server-key.pem"))).mode & 0o777, 0o600);
    const again = await ensureTls(dir, ["127.0.0.1"]);
    assert.equal(again.cert, first.cert, "kept while it covers the names");
    const renamed = await ensureTls(dir, ["127.0.0.1", "cp.example"]);
    assert.notEqual(renamed.cert, first.cert);
    assert.equal(renamed.ca, first.ca, "the CA stays: agents pinned it");
    assert.ok(new X509Certificate(renamed.cert).checkHost("cp.example"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("isLoopback", () => {
  for (const h of ["127.0.0.1", "127.9.8.7", "localhost", "::1"]) assert.ok(isLoopback(h), h);
  for (const h of ["0.0.0.0", "10.0.0.1", "example.com", "::"]) assert.ok(!isLoopback(h), h);
});

test("with tls: on the API serves HTTPS with strata's CA; a client must pin it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-tls-plane-"));
  const host = `127.${octet()}.${octet()}.1`;
  const config = parseServerConfig(`tls: "on"\nbalancer: { host: "${host}" }`, "test", {
    dataDir: dir,
    listen: `${host}:0`,
  });
  const plane = await startControlPlane({ config });
  try {
    assert.match(plane.url, /^https:\/\//);
    assert.ok(plane.ca);
    const pinned = new ApiClient(plane.url, plane.adminToken, { ca: plane.ca });
    assert.ok((await pinned.get<{ servers: unknown[] }>("/v1/status")).servers);
    const unpinned = new ApiClient(plane.url, plane.adminToken);
    await assert.rejects(unpinned.get("/v1/status"), /cannot reach the control plane/);
    const local = await createClient({ dataDir: dir });
    assert.ok(await local.get("/v1/status"), "the CLI pins the CA named in server.json");
    const info = JSON.parse(await readFile(join(dir, "server.json"), "utf8"));
    assert.equal(info.ca_file, join(dir, "tls", "ca.pem"));
  } finally {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  }
});
