import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DeploymentView } from "../../src/wire/deployment.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  startTestPlane,
  waitForServing,
  type TestPlane,
} from "./harness.js";

describe("TLS: agents pin strata's CA and deploy over HTTPS", { timeout: 300_000 }, () => {
  let t: TestPlane;

  before(async () => {
    t = await startTestPlane({ yaml: ['tls: "on"'] });
  });
  after(async () => {
    await t?.close();
  });

  test("servers join, heartbeat and fetch releases over https", async () => {
    assert.match(t.plane.url, /^https:/);
    await t.client.post("/v1/fleet/up", { group: "web", count: 2 });
    await build(t.client, EXAMPLE_APP, "1.0.0");
    const d: DeploymentView = await deployAndWait(t.client, { version: "1.0.0" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    await waitForServing(t.client, "web", 2, "1.0.0");
  });
});
