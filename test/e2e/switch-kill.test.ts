// Regression for issue 8 defect 7 (kill between switch and activation record): an agent
// SIGKILLed at any step of the switch, restarted as systemd would (the local provider
// does), completes the switch: the right version, after_switch and on_success once each.
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { releaseDir } from "../../src/lib/server-root.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  get,
  startTestPlane,
  variantOf,
  launchJoined,
} from "./harness.js";

/** Every failpoint the agent passes while switching (src/agent/reconcile.ts, src/lib/server-root.ts). */
const KILL_POINTS = [
  "switch.intent",
  "switch.renamed",
  "switch.recorded",
  "hook.after_switch",
  "restart",
  "health_check",
  "hook.on_success",
];

const HOOKS = `hooks:
  before_switch: echo "before_switch $STRATA_RELEASE_VERSION" >> hooks.log
  after_switch: echo "after_switch $STRATA_RELEASE_VERSION" >> hooks.log
  on_success: echo "on_success $STRATA_RELEASE_VERSION" >> hooks.log
  on_failure: echo "on_failure $STRATA_RELEASE_VERSION" >> hooks.log
`;

describe(
  "an agent killed while switching completes the switch when it restarts",
  { timeout: 600_000 },
  () => {
    for (const point of KILL_POINTS) {
      test(`killed at ${point}`, async () => {
        const t = await startTestPlane({ agentEnv: { STRATA_FAILPOINT: point } });
        try {
          const server = (await launchJoined(t.client, "web", 1))[0]!;
          const yaml = (await readFile(join(EXAMPLE_APP, "strata.yaml"), "utf8")).replace(
            /hooks:\n( {2}.*\n)+/,
            HOOKS,
          );
          const app = await variantOf(t.dir, { "strata.yaml": yaml });
          const release = await build(t.client, app, "1.0.0");
          const d = await deployAndWait(t.client, { version: "1.0.0" });
          assert.equal(d.state, "succeeded", d.error ?? "");

          const root = join(t.dir, "data", "servers", server.name);
          assert.ok(
            (await readdir(root)).includes(`.failpoint-${point}`),
            `the agent was killed at ${point}`,
          );
          const hooks = (await readFile(join(releaseDir(root, release.id), "hooks.log"), "utf8"))
            .trim()
            .split("\n");
          assert.deepEqual(hooks, [
            "before_switch 1.0.0",
            "after_switch 1.0.0",
            "on_success 1.0.0",
          ]);
          const answer = JSON.parse((await get(`http://${server.address}:8080/`)).body);
          assert.equal(answer.version, "1.0.0");
          const activations = JSON.parse(await readFile(join(root, "activations.json"), "utf8"));
          assert.equal(activations[release.id]?.version, "1.0.0");
          assert.ok(!(await readdir(root)).includes("switching.json"), "the intent is cleared");
        } finally {
          await t.close();
        }
      });
    }
  },
);
