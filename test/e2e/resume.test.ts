import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DeploymentView } from "../../src/wire/deployment.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  variantOf,
  waitFor,
  waitForDeployment,
  waitForServing,
  startTestPlane,
  type TestPlane,
} from "./harness.js";

/**
 * Where a deployment can stand when the control plane goes away, as a
 * predicate over its persisted view. The loop below restarts the control
 * plane at each and checks that the fleet ends on one release.
 */
const STEPS: [string, (d: DeploymentView) => boolean][] = [
  ["staging", (d) => d.servers.some((s) => s.state === "staging" || s.state === "staged")],
  [
    "first wave draining or deploying",
    (d) =>
      d.servers.some((s) => s.wave === 1 && (s.state === "draining" || s.state === "deploying")),
  ],
  [
    "between waves",
    (d) =>
      d.servers.some((s) => s.wave === 1 && s.state === "succeeded") &&
      d.servers.some((s) => s.wave === 3 && s.state !== "succeeded"),
  ],
  [
    "last wave deploying",
    (d) =>
      d.servers.some((s) => s.wave === 3 && (s.state === "draining" || s.state === "deploying")),
  ],
];

// Regression (issue 8, defect 3): a restart marked the deployment failed and left the fleet mixed.
describe(
  "a control-plane restart at each step of a deploy never leaves the fleet between releases",
  { timeout: 600_000 },
  () => {
    let t: TestPlane;

    before(async () => {
      t = await startTestPlane();
      await t.client.post("/v1/fleet/up", { group: "web", count: 3 });
      await build(t.client, EXAMPLE_APP, "1.0.0");
      const first = await deployAndWait(t.client, { version: "1.0.0" });
      assert.equal(first.state, "succeeded", first.error ?? "");
      await waitForServing(t.client, "web", 3, "1.0.0");
    });
    after(async () => {
      await t?.close();
    });

    for (const [index, [step, reached]] of STEPS.entries()) {
      test(`restart while ${step}`, async () => {
        const version = `2.${index}.0`;
        const app = await variantOf(t.dir, { "message.txt": `release ${version}\n` });
        await build(t.client, app, version);
        const started = await t.client.post<DeploymentView>("/v1/deployments", {
          app: "hello",
          group: "web",
          version,
        });
        let seen: DeploymentView | null = null;
        await waitFor(
          `deployment at "${step}"`,
          async () => {
            const d = await t.client.get<DeploymentView>(`/v1/deployments/${started.id}`);
            if (d.state !== "running") throw new Error(`finished (${d.state}) before "${step}"`);
            return reached(d) ? (seen = d) : null;
          },
          60_000,
          5,
        );
        assert.ok(seen);
        await t.restart();
        const done = await waitForDeployment(t.client, started.id);
        assert.equal(done.state, "succeeded", done.error ?? "");
        assert.ok(
          done.servers.every((s) => s.state === "succeeded"),
          done.servers.map((s) => `${s.name}: ${s.state}`).join(", "),
        );
        const s = await waitForServing(t.client, "web", 3, version);
        const group = s.groups.find((g) => g.name === "web")!;
        assert.equal(group.desired_version, version, "the group's desired release is what runs");
        assert.deepEqual(
          new Set(s.servers.map((x) => x.release)),
          new Set([group.desired_release]),
        );
        assert.ok(s.servers.every((x) => x.desired_release === group.desired_release));
        const open = (
          await t.client.get<{ deployments: DeploymentView[] }>("/v1/deployments")
        ).deployments.filter((d) => d.state === "running");
        assert.deepEqual(open, [], "no deployment left open");
      });
    }
  },
);
