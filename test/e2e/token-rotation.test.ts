// Issue 8 (agent tokens rotated): a real agent process rotates its token when asked
// (`strata tokens rotate`), through its authenticated channel; the replaced token stops
// working once the new one is in use; an agent SIGKILLed at each step of the rotation
// restarts with a token that works and finishes the rotation.
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCliChild } from "../../src/cli/capture.js";
import type { AuditView } from "../../src/wire/audit.js";
import {
  build,
  deployAndWait,
  EXAMPLE_APP,
  startTestPlane,
  status,
  waitFor,
  type TestPlane,
} from "./harness.js";

/** Every failpoint of a rotation (src/fleet/agent-credentials.ts). */
const KILL_POINTS = ["token.issued", "token.saved"];

const savedToken = async (root: string) =>
  (JSON.parse(await readFile(join(root, "agent.json"), "utf8")) as { token: string }).token;

async function heartbeatWith(t: TestPlane, token: string): Promise<number> {
  const res = await fetch(`${t.plane.url}/v1/agents/heartbeat`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ current_release: null, app_healthy: false, app_port: null }),
  });
  await res.body?.cancel();
  return res.status;
}

async function rotations(t: TestPlane, server: string): Promise<number> {
  const { entries } = await t.client.get<AuditView>(`/v1/audit?subject=${server}&limit=1000`);
  return entries.filter((e) => e.action === "token.agent.rotate").length;
}

async function joinedServer(t: TestPlane) {
  await t.client.post("/v1/fleet/up", { group: "web", count: 1 });
  const server = await waitFor("the agent to join", async () =>
    (await status(t.client)).servers.find((s) => s.last_heartbeat),
  );
  const root = join(t.dir, "data", "servers", server.name);
  // The control plane records the join before the agent has saved the token it got.
  await waitFor("the agent to save its token", () => savedToken(root).catch(() => null));
  return { name: server.name, root };
}

const plane = (agentEnv: Record<string, string> = {}) =>
  startTestPlane({
    apiPrefix: "127.86.0",
    serverPrefix: `127.86.${1 + Math.floor(Math.random() * 250)}`,
    yaml: ["agent_tokens: { grace: 0s }"],
    agentEnv,
  });

describe("agent token rotation with real agent processes", { timeout: 600_000 }, () => {
  test("strata tokens rotate: the agent swaps its token, the old one is refused, deploys go on", async () => {
    const t = await plane();
    try {
      const server = await joinedServer(t);
      const old = await savedToken(server.root);
      const env = { STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken };
      const run = await runCliChild(["tokens", "rotate", server.name, "--json"], env);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { servers: [server.name] });

      await waitFor("the rotation", async () => (await rotations(t, server.name)) === 1);
      const fresh = await savedToken(server.root);
      assert.notEqual(fresh, old);
      await waitFor("the old token refused", async () => (await heartbeatWith(t, old)) === 401);
      assert.equal(await heartbeatWith(t, fresh), 200);

      await build(t.client, EXAMPLE_APP, "1.0.0");
      const deployment = await deployAndWait(t.client, { version: "1.0.0" });
      assert.equal(deployment.state, "succeeded", deployment.error ?? "");
      assert.equal(await rotations(t, server.name), 1, "asked once, rotated once");

      const usage = await runCliChild(["tokens", "rotate", "--json"], env);
      assert.equal(usage.code, 2, "neither a server nor --group is a usage error");
    } finally {
      await t.close();
    }
  });

  for (const point of KILL_POINTS) {
    test(`an agent killed at ${point} restarts with a working token and finishes the rotation`, async () => {
      const t = await plane({ STRATA_FAILPOINT: point });
      try {
        const server = await joinedServer(t);
        const old = await savedToken(server.root);
        await t.client.post("/v1/tokens/agents/rotate", { group: "web" });
        await waitFor("the rotation", async () => (await rotations(t, server.name)) === 1);
        assert.ok(
          (await readdir(server.root)).includes(`.failpoint-${point}`),
          `the agent was killed at ${point}`,
        );
        const fresh = await savedToken(server.root);
        assert.notEqual(fresh, old);
        assert.equal(await heartbeatWith(t, fresh), 200);
        await build(t.client, EXAMPLE_APP, "1.0.0");
        const deployment = await deployAndWait(t.client, { version: "1.0.0" });
        assert.equal(deployment.state, "succeeded", deployment.error ?? "");
      } finally {
        await t.close();
      }
    });
  }
});
