// Regression for issue 8 defect 10 (releases can read the control plane's secrets on the
// local provider): as root, apps and hooks run as an unprivileged account that can reach
// its own release but neither list nor read the agent's token or the control plane's secrets.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  startTestPlane,
  variantOf,
  launchJoined,
} from "./harness.js";

// From a release folder: ../.. is the server root, ../../.. the provider's folder, ../../../.. the data folder.
const SECRETS = [
  "../../agent.json",
  "../../agent.log",
  "../../../instances.json",
  "../../../../admin-token",
  "../../../../join-token",
  "../../../../release-signing-key.pem",
  "../../../../state.db",
];
const PROBE = [
  "id -un",
  `for f in ${SECRETS.join(" ")}; do if cat "$f" > /dev/null 2>&1; then echo "READ $f"; else echo "denied $f"; fi; done`,
  'for d in ../.. ../../.. ../../../..; do if ls "$d" > /dev/null 2>&1; then echo "LISTED $d"; fi; done',
  "echo written > probe.txt",
].join("; ");

test(
  "a hook cannot read the agent's token or the control plane's secrets (issue 8 defect 10)",
  {
    timeout: 300_000,
    skip: process.getuid?.() !== 0 ? "needs root: apps run as another account only then" : false,
  },
  async () => {
    const t = await startTestPlane();
    try {
      const server = (await launchJoined(t.client, "web", 1))[0]!;
      const yaml = (await readFile(join(EXAMPLE_APP, "strata.yaml"), "utf8")).replace(
        /before_switch: .*/,
        `before_switch: ${JSON.stringify(PROBE)}`,
      );
      await build(t.client, await variantOf(t.dir, { "strata.yaml": yaml }), "1.0.0");
      const d = await deployAndWait(t.client, { version: "1.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const output = d.servers[0]!.steps.find((s) => s.name === "before_switch")?.output ?? "";
      assert.match(output, /^strata-app\n/, "the hook runs as the app account");
      assert.doesNotMatch(output, /READ|LISTED/, output);
      assert.equal(output.match(/denied/g)?.length, SECRETS.length, output);
      const pid = (
        await readFile(join(t.dir, "data", "servers", server.name, "app.pid"), "utf8")
      ).trim();
      const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1];
      assert.notEqual(uid, "0", "the app does not run as root");
    } finally {
      await t.close();
    }
  },
);
