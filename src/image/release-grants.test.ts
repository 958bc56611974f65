import assert from "node:assert/strict";
import { test } from "node:test";
import { createReleaseGrants } from "./release-grants.js";

const release = `sha256:${"ab".repeat(32)}`;
const other = `sha256:${"cd".repeat(32)}`;

function grants(options: { secret?: string; baking?: Set<string> } = {}) {
  const clock = { now: () => now.at, sleep: async () => undefined };
  const now = { at: 1_000_000 };
  const baking = options.baking ?? new Set(["img-1"]);
  const made = createReleaseGrants({
    secret: options.secret ?? "admin-secret",
    baseUrl: () => "http://10.0.0.5:7700/",
    clock,
    baking: async (image) => baking.has(image),
  });
  return { made, now, baking };
}

test("a grant reads its release's artifact by GET while its image bakes, and names the bake", async () => {
  const { made } = grants();
  const grant = made.issue(release, "img-1", 60_000);
  assert.equal(grant.url, `http://10.0.0.5:7700/v1/releases/${release}/artifact`);
  const path = `/v1/releases/${release}/artifact`;
  assert.equal(await made.check(grant.token, "GET", path), "bake:img-1");
  assert.equal(await made.check(grant.token, "HEAD", path), "bake:img-1");
});

test("a grant reads nothing else: another release, another route, a write", async () => {
  const { made } = grants();
  const { token } = made.issue(release, "img-1", 60_000);
  assert.equal(await made.check(token, "GET", `/v1/releases/${other}/artifact`), null);
  assert.equal(await made.check(token, "GET", `/v1/releases/${release}/manifest`), null);
  assert.equal(await made.check(token, "GET", "/v1/status"), null);
  assert.equal(await made.check(token, "POST", `/v1/releases/${release}/artifact`), null);
});

test("a grant dies when its bake ends or at its expiry, whichever comes first", async () => {
  const { made, now, baking } = grants();
  const path = `/v1/releases/${release}/artifact`;
  const { token } = made.issue(release, "img-1", 60_000);
  now.at += 59_999;
  assert.equal(await made.check(token, "GET", path), "bake:img-1");
  now.at += 1;
  assert.equal(await made.check(token, "GET", path), null, "expired");
  const fresh = made.issue(release, "img-1", 60_000).token;
  baking.delete("img-1");
  assert.equal(await made.check(fresh, "GET", path), null, "its bake ended");
});

test("a forged or tampered grant, or one of another control plane, is refused", async () => {
  const { made } = grants();
  const path = `/v1/releases/${release}/artifact`;
  const { token } = made.issue(release, "img-1", 60_000);
  const [prefix, payload, mac] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as { e: number };
  const later = Buffer.from(JSON.stringify({ ...claims, e: claims.e * 2 })).toString("base64url");
  assert.equal(await made.check(`${prefix}.${later}.${mac}`, "GET", path), null);
  assert.equal(await made.check(`${token}.x`, "GET", path), null);
  assert.equal(await made.check("not-a-grant", "GET", path), null);
  const elsewhere = grants({ secret: "another-admin-secret" }).made;
  assert.equal(await elsewhere.check(token, "GET", path), null);
});

test("a grant carries strata's CA when the control plane serves HTTPS with its own certificate", () => {
  const clock = { now: () => 0, sleep: async () => undefined };
  const base = { secret: "s", baseUrl: () => "https://10.0.0.5:7700", clock };
  const pinned = createReleaseGrants({ ...base, baking: async () => true, ca: () => "PEM" });
  assert.equal(pinned.issue(release, "img-1", 1000).ca, "PEM");
  const plain = createReleaseGrants({ ...base, baking: async () => true, ca: () => undefined });
  assert.ok(!("ca" in plain.issue(release, "img-1", 1000)));
});
