import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { systemClock } from "../lib/clock.js";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import { createAppControl } from "./app-control.js";
import { STOPPED_MARKER } from "./current-app.js";
import { createSupervisor } from "./supervisor.js";

const RELEASE: DesiredRelease = {
  id: `sha256-${"a".repeat(64)}`,
  app: "hello",
  version: "1.0.0",
  size: 1,
  artifact_path: "/v1/releases/x/artifact",
};

test("a server that joins a stopped group stays stopped without its release until started (it reconciled and started its app)", async () => {
  const root = await mkdtemp(join(tmpdir(), "strata-app-control-"));
  try {
    const supervisor = createSupervisor({ logFile: join(root, "app.log"), clock: systemClock });
    const reports: AgentReport[] = [];
    const control = createAppControl({
      root,
      address: "127.96.0.2",
      supervisor,
      clock: systemClock,
      signal: new AbortController().signal,
      session: { report: (r) => void reports.push(r) },
    });
    // No `current` yet: the desired release is not there, and the group's app is stopped.
    const handled = await control.apply(1, { generation: 1, release: RELEASE, stopped: true });
    assert.equal(handled, true, "handled here: no reconcile, nothing fetched or started");
    assert.equal(supervisor.current, null);
    assert.ok(existsSync(join(root, STOPPED_MARKER)), "stays stopped across an agent restart");
    const last = reports.at(-1)!;
    assert.equal(last.phase, "converged");
    assert.equal(last.current_release, null, "it says what it has: nothing");
    assert.deepEqual(
      last.steps.map((s) => [s.name, s.state]),
      [["stop", "ok"]],
    );

    // `strata app start`: the reconcile brings the release and starts it; no marker outlives it.
    assert.equal(await control.apply(2, { generation: 2, release: RELEASE }), false);
    assert.ok(!existsSync(join(root, STOPPED_MARKER)));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
