import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type {
  DeploymentEvent,
  DeploymentServerView,
  DeploymentView,
  StepReport,
} from "../wire/deployment.js";
import { createDeployProgress, deploymentText, summary } from "./deploy-view.js";

const step = (name: string, state: StepReport["state"], ms: number | null = 5): StepReport => ({
  name,
  state,
  started_at: "2026-01-01T00:00:00.000Z",
  duration_ms: ms,
});

function deployment(servers: Partial<DeploymentServerView>[], patch: Partial<DeploymentView> = {}) {
  return {
    id: "d1",
    app: "hello",
    group: "web",
    version: "2.0.0",
    release: "sha256:x",
    previous_release: null,
    kind: "deploy",
    strategy: "rolling",
    state: "running",
    error: null,
    created_at: "2026-01-01T00:00:00.000Z",
    finished_at: null,
    waves: 4,
    servers: servers.map((s, i) => ({
      name: `web-${i + 1}`,
      wave: i + 1,
      state: "pending",
      error: null,
      steps: [],
      ...s,
    })),
    ...patch,
  } satisfies DeploymentView;
}

function render(events: DeploymentEvent[], tty = false): string {
  const lines: string[] = [];
  const view = createDeployProgress(
    { write: (t: string) => lines.push(t), isTTY: tty, columns: 200 },
    () => 0,
  );
  for (const e of events) view.event(e);
  return lines.join("");
}

// Defect 11 of issue 15: the progress display's four bugs.
describe("deploy progress (issue 15, defect 11)", () => {
  test("piped: a server's last step, resent with every agent report, is printed once", () => {
    const health = step("health", "ok");
    const text = render([
      { type: "snapshot", deployment: deployment([{}, {}]) },
      { type: "wave", wave: 1, servers: ["web-1"] },
      { type: "server", server: "web-1", state: "deploying", step: step("fetch", "ok") },
      { type: "server", server: "web-1", state: "deploying", step: health },
      { type: "server", server: "web-1", state: "deploying", step: health },
      { type: "server", server: "web-1", state: "succeeded" },
    ]);
    assert.equal(text.match(/web-1: deploying health ok/g)?.length, 1, text);
    assert.match(text, /web-1: succeeded/);
  });

  test("piped: the first wave's servers get their lines though the wave started before the view subscribed", () => {
    const snapshot = deployment([
      { state: "deploying", steps: [step("fetch", "ok")] },
      { state: "pending" },
    ]);
    const text = render([{ type: "snapshot", deployment: snapshot }]);
    assert.match(text, /wave 1: web-1\n/);
    assert.match(text, /web-1: deploying fetch ok/);
    assert.doesNotMatch(text, /web-2/);
  });

  test("the view never prints the outcome: the command prints it once, on stdout", () => {
    const done = deployment([{ state: "succeeded" }], {
      state: "succeeded",
      finished_at: "2026-01-01T00:00:02.000Z",
    });
    for (const tty of [false, true]) {
      const text = render(
        [
          { type: "snapshot", deployment: deployment([{}]) },
          { type: "done", deployment: done },
        ],
        tty,
      );
      assert.doesNotMatch(text, /deployment d1 succeeded/);
    }
    assert.match(deploymentText(done), /deployment d1 succeeded in 2\.0 s$/);
  });

  test("a deploy no server took part in says so, not just 'succeeded' (servers not joined yet)", () => {
    const done = { state: "succeeded", finished_at: "2026-01-01T00:00:00.000Z" } as const;
    const empty = deployment([], { ...done, waves: 0 });
    assert.match(
      summary(empty),
      /succeeded in 0\.0 s; no server took part \(0 offline or not joined\)/,
    );
    const skipped = deployment([{ wave: 0, state: "skipped" }], { ...done, waves: 0 });
    assert.match(summary(skipped), /no server took part \(1 offline or not joined\)/);
    assert.doesNotMatch(summary(deployment([{ state: "succeeded" }], done)), /no server/);
  });

  test("on a terminal the header names the wave running at subscription, not wave 0", () => {
    const snapshot = deployment([{ state: "draining" }, {}, {}, {}]);
    const text = render([{ type: "snapshot", deployment: snapshot }], true);
    assert.match(text, /wave 1\/4/);
    assert.doesNotMatch(text, /wave 0\//);
  });

  test("piped: servers the deployment skipped say so when it ends", () => {
    const done = deployment([{ state: "failed" }, { state: "skipped" }], { state: "failed" });
    const text = render([{ type: "done", deployment: done }]);
    assert.match(text, /web-2: skipped/);
  });
});
