import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DeploymentEvent, DeploymentView } from "../../src/wire/deployment.js";
import {
  EXAMPLE_APP,
  build,
  status,
  variantOf,
  waitFor,
  waitForDeployment,
  startTestPlane,
  type TestPlane,
  launchJoined,
} from "./harness.js";

/** Every server state a deployment's event stream named, per server. */
async function statesOf(t: TestPlane, id: string): Promise<Map<string, string[]>> {
  const res = await t.client.raw("GET", `/v1/deployments/${id}/events`);
  const seen = new Map<string, string[]>();
  for (const line of (await res.text()).split("\n").filter(Boolean)) {
    const event = JSON.parse(line) as DeploymentEvent;
    if (event.type !== "server") continue;
    const list = seen.get(event.server) ?? [];
    if (list.at(-1) !== event.state) list.push(event.state);
    seen.set(event.server, list);
  }
  return seen;
}

// Regression (issue 15, defect 12): states that said what did not happen.
describe("deployment server states say what happened", { timeout: 300_000 }, () => {
  let t: TestPlane;

  before(async () => {
    t = await startTestPlane();
    await launchJoined(t.client, "web", 3);
  });
  after(async () => {
    await t?.close();
  });

  test("a first deploy never shows draining: nothing was in service", async () => {
    await build(t.client, EXAMPLE_APP, "1.0.0");
    const started = await t.client.post<DeploymentView>("/v1/deployments", {
      app: "hello",
      group: "web",
      version: "1.0.0",
    });
    const seen = await statesOf(t, started.id);
    assert.equal((await waitForDeployment(t.client, started.id)).state, "succeeded");
    assert.equal(seen.size, 3);
    for (const [server, states] of seen) {
      // Watched from staging on, so no later state went unseen.
      assert.ok(["staging", "staged"].includes(states[0]!), `${server}: ${states.join(" -> ")}`);
      assert.ok(!states.includes("draining"), `${server}: ${states.join(" -> ")}`);
      assert.equal(states.at(-1), "succeeded");
    }
  });

  test("a hook that fails before the switch: failed, not rolled back; later waves skipped with a reason", async () => {
    const app = await variantOf(t.dir, { "hooks/check.sh": "#!/bin/sh\necho nope >&2\nexit 3\n" });
    await build(t.client, app, "1.1.0");
    const started = await t.client.post<DeploymentView>("/v1/deployments", {
      app: "hello",
      group: "web",
      version: "1.1.0",
    });
    const seen = await statesOf(t, started.id);
    const done = await waitForDeployment(t.client, started.id);
    assert.equal(done.state, "failed", "nothing switched, so nothing was rolled back");
    const first = done.servers.find((s) => s.wave === 1)!;
    assert.equal(first.state, "failed");
    assert.ok(!seen.get(first.name)!.includes("rolling_back"), seen.get(first.name)!.join(" -> "));
    for (const later of done.servers.filter((s) => s.wave > 1)) {
      assert.equal(later.state, "skipped");
      assert.match(later.error ?? "", /not deployed: an earlier wave failed/);
    }
    await waitFor("every server back in service on 1.0.0", async () =>
      (await status(t.client)).servers.every((x) => x.version === "1.0.0" && x.in_service),
    );
  });
});
