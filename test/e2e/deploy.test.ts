import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { open, readFile } from "node:fs/promises";
import http from "node:http";
import { after, before, describe, test } from "node:test";
import { localArtifactPath } from "../../src/artifact/local/local-store.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { Release } from "../../src/wire/release.js";
import {
  EXAMPLE_APP,
  agentPid,
  build,
  deployAndWait,
  get,
  status,
  variantOf,
  waitFor,
  waitForDeployment,
  waitForServing,
  startTestPlane,
  type TestPlane,
  launchJoined,
} from "./harness.js";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { AuditVerifyView } from "../../src/wire/audit.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** Versions each server answers with, read from the apps directly (not through the balancer). */
async function versionsServed(t: TestPlane): Promise<string[]> {
  const s = await status(t.client);
  return Promise.all(
    s.servers.map(async (server) => {
      const res = await get(`http://${server.address}:8080/`);
      return (JSON.parse(res.body) as { version: string }).version;
    }),
  );
}

function balancerUrl(t: TestPlane, s: Awaited<ReturnType<typeof status>>): string {
  const lb = s.groups.find((g) => g.name === "web")?.balancer;
  assert.ok(lb, "group web has a balancer");
  return `http://${lb}/`;
}

describe(
  "pull deploys end to end (control plane + 3 agent processes)",
  { timeout: 600_000 },
  () => {
    let t: TestPlane;
    let v1: Release;

    before(async () => {
      t = await startTestPlane();
      await launchJoined(t.client, "web", 3);
    });
    after(async () => {
      await t?.close();
    });

    test("deploys v1 to every server, reachable through the balancer", async () => {
      v1 = await build(t.client, EXAMPLE_APP, "1.0.0");
      assert.match(v1.id, /^sha256:[0-9a-f]{64}$/);
      const d = await deployAndWait(t.client, { version: "1.0.0", batch: "2" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const s = await waitForServing(t.client, "web", 3, "1.0.0");
      assert.deepEqual(await versionsServed(t), ["1.0.0", "1.0.0", "1.0.0"]);
      const res = await get(balancerUrl(t, s));
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).version, "1.0.0");
      assert.deepEqual(
        d.servers.map((s) => s.state),
        ["succeeded", "succeeded", "succeeded"],
      );
      const steps = d.servers[0]!.steps.map((step) => step.name);
      for (const name of [
        "verify", // the control plane's signature, checked against the key pinned at join
        "fetch",
        "extract",
        "before_switch",
        "switch",
        "restart",
        "health_check",
      ]) {
        assert.ok(steps.includes(name), `step ${name} reported (got ${steps.join(", ")})`);
      }
    });

    test("rebuilding identical content yields the same release id", async () => {
      const again = await build(t.client, EXAMPLE_APP, "1.0.0");
      assert.equal(again.id, v1.id);
    });

    test("rolling deploy of v2 while a client sends requests without pause: zero failed requests", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "version two\n" });
      await build(t.client, dir, "2.0.0");
      const url = balancerUrl(t, await status(t.client));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      let ok = 0;
      const failures: string[] = [];
      const seen = new Set<string>();
      let running = true;
      const load = (async () => {
        while (running) {
          await new Promise<void>((resolve) => {
            const req = http.get(url, { agent }, (res) => {
              let body = "";
              res.on("data", (c) => (body += c));
              res.on("end", () => {
                if (res.statusCode === 200) {
                  ok++;
                  seen.add(JSON.parse(body).version);
                } else failures.push(`HTTP ${res.statusCode}: ${body.trim()}`);
                resolve();
              });
            });
            req.on("error", (err) => {
              failures.push(err.message);
              resolve();
            });
          });
        }
      })();
      const d = await deployAndWait(t.client, {
        version: "2.0.0",
        strategy: "rolling",
        batch: "1",
      });
      running = false;
      await load;
      agent.destroy();
      assert.equal(d.state, "succeeded", d.error ?? "");
      assert.equal(d.waves, 3);
      assert.deepEqual(failures, [], `failed requests during the deploy (${ok} succeeded)`);
      assert.ok(ok > 50, `the client kept sending (${ok} requests)`);
      assert.deepEqual([...seen].sort(), ["1.0.0", "2.0.0"]);
      assert.deepEqual(await versionsServed(t), ["2.0.0", "2.0.0", "2.0.0"]);
    });

    test("a second deployment of the same app and group is refused, naming the running one", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "slow one\n" });
      await build(t.client, dir, "2.1.0");
      const first = await t.client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        group: "web",
        version: "2.1.0",
      });
      await assert.rejects(
        t.client.post("/v1/deployments", { app: "hello", group: "web", version: "1.0.0" }),
        (err: Error & { code?: string }) =>
          err.code === "conflict" && err.message.includes(first.id),
      );
      assert.equal((await waitForDeployment(t.client, first.id)).state, "succeeded");
    });

    test("an artifact corrupted in the store fails the deployment naming the checksum; servers keep the old version", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "corrupt me\n" });
      const bad = await build(t.client, dir, "3.0.0");
      const path = localArtifactPath(join(t.plane.dataDir, "artifacts"), bad.id);
      const file = await open(path, "r+");
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, 100);
      byte[0] = byte[0]! ^ 0xff;
      await file.write(byte, 0, 1, 100);
      await file.close();
      // Agents build releases from files (src/cas/): corrupt the one new file's blob too.
      const index = JSON.parse(await readFile(path.replace(/\.tar\.gz$/, ".index"), "utf8"));
      const [offset] = index[createHash("sha256").update("corrupt me\n").digest("hex")];
      const blobs = await open(path.replace(/\.tar\.gz$/, ".blobs"), "r+");
      await blobs.read(byte, 0, 1, offset);
      byte[0] = byte[0]! ^ 0xff;
      await blobs.write(byte, 0, 1, offset);
      await blobs.close();
      const d = await deployAndWait(t.client, { version: "3.0.0" });
      assert.notEqual(d.state, "succeeded");
      assert.match(d.error ?? "", /checksum/);
      assert.match(d.error ?? "", new RegExp(bad.id.slice(7, 20)));
      assert.deepEqual(await versionsServed(t), ["2.1.0", "2.1.0", "2.1.0"]);
      await waitForServing(t.client, "web", 3, "2.1.0");
    });

    test("a failing health check rolls the wave back", async () => {
      const yaml = (await import("node:fs/promises")).readFile(
        join(EXAMPLE_APP, "strata.yaml"),
        "utf8",
      );
      const broken = (await yaml).replace(
        /health: \{[^}]*\}/,
        "health: { path: /missing, status: 200, timeout: 1s, retries: 3, interval: 100ms }",
      );
      const dir = await variantOf(t.dir, { "strata.yaml": broken, "message.txt": "unhealthy\n" });
      await build(t.client, dir, "4.0.0");
      const d = await deployAndWait(t.client, { version: "4.0.0", batch: "1" });
      assert.equal(d.state, "rolled_back", d.error ?? "");
      assert.match(d.error ?? "", /health/);
      assert.deepEqual(await versionsServed(t), ["2.1.0", "2.1.0", "2.1.0"]);
      await waitForServing(t.client, "web", 3, "2.1.0");
    });

    test("a failing hook rolls the wave back", async () => {
      const yaml = (await import("node:fs/promises")).readFile(
        join(EXAMPLE_APP, "strata.yaml"),
        "utf8",
      );
      const broken = (await yaml).replace(
        /after_switch: .*/,
        "after_switch: echo migration failed >&2; exit 3",
      );
      const dir = await variantOf(t.dir, { "strata.yaml": broken, "message.txt": "bad hook\n" });
      await build(t.client, dir, "5.0.0");
      const d = await deployAndWait(t.client, { version: "5.0.0", batch: "2" });
      assert.equal(d.state, "rolled_back", d.error ?? "");
      assert.match(d.error ?? "", /after_switch/);
      const failed = d.servers.find((s) =>
        s.steps.some((step) => step.name === "after_switch" && step.state === "failed"),
      );
      assert.ok(failed, "the failed hook step is reported");
      assert.match(
        failed.steps.find((s) => s.name === "after_switch")!.output ?? "",
        /migration failed/,
      );
      assert.deepEqual(await versionsServed(t), ["2.1.0", "2.1.0", "2.1.0"]);
    });

    test("rollback returns to the previous release", async () => {
      const started = await t.client.post<DeploymentView>("/v1/rollbacks", {
        app: "hello",
        group: "web",
      });
      const d = await waitForDeployment(t.client, started.id);
      assert.equal(d.state, "succeeded", d.error ?? "");
      assert.equal(d.version, "2.0.0");
      assert.deepEqual(await versionsServed(t), ["2.0.0", "2.0.0", "2.0.0"]);
      const fetched = d.servers
        .flatMap((s) => s.steps)
        .filter((s) => s.name === "fetch" && s.state === "ok");
      assert.deepEqual(fetched, [], "a release still on disk is not downloaded again");
    });

    test("an agent killed in the middle of a deploy converges after it is restarted", async () => {
      const dir = await variantOf(t.dir, { "message.txt": "six\n" });
      await build(t.client, dir, "6.0.0");
      const s = await status(t.client);
      const victim = s.servers[0]!;
      const root = join(t.plane.dataDir, "servers", victim.name);
      const started = await t.client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        group: "web",
        version: "6.0.0",
        batch: "3",
      });
      await waitFor("the victim to start working", async () => {
        const d = await t.client.get<DeploymentView>(`/v1/deployments/${started.id}`);
        return d.servers.find((x) => x.name === victim.name && x.steps.length > 0);
      });
      const pid = agentPid(root);
      assert.ok(pid, "found the agent process");
      process.kill(pid, "SIGKILL");
      // The local provider restarts a crashed agent, as systemd would on a VM.
      const d = await waitForDeployment(t.client, started.id);
      assert.equal(d.state, "succeeded", d.error ?? "");
      assert.notEqual(agentPid(root), pid);
      assert.deepEqual(await versionsServed(t), ["6.0.0", "6.0.0", "6.0.0"]);
    });

    test("a server added after the deploy comes up on the desired release and enters service", async () => {
      await t.client.post("/v1/fleet/up", { group: "web", count: 4 });
      const s = await waitForServing(t.client, "web", 4, "6.0.0");
      assert.equal(s.servers.length, 4);
      assert.deepEqual(await versionsServed(t), ["6.0.0", "6.0.0", "6.0.0", "6.0.0"]);
    });

    test("servers keep their state across a control-plane restart", async () => {
      await t.restart();
      const s = await waitForServing(t.client, "web", 4, "6.0.0");
      assert.deepEqual(
        s.servers.map((x) => x.version),
        ["6.0.0", "6.0.0", "6.0.0", "6.0.0"],
      );
      const res = await get(balancerUrl(t, s));
      assert.equal(JSON.parse(res.body).version, "6.0.0");
    });

    test("status --json fields and the audit log", async () => {
      const s = await status(t.client);
      for (const server of s.servers) {
        for (const key of [
          "name",
          "address",
          "group",
          "state",
          "release",
          "version",
          "in_service",
          "last_heartbeat",
        ]) {
          assert.ok(key in server, `status has ${key}`);
        }
      }
      assert.equal(new Set(s.servers.map((x) => x.address)).size, 4, "distinct addresses");
      const audit = await t.client.get<{ entries: { action: string }[] }>("/v1/audit");
      const actions = new Set(audit.entries.map((e) => e.action));
      for (const a of [
        "release.create",
        "deploy.start",
        "deploy.succeeded",
        "deploy.rolled_back",
        "rollback.succeeded",
        "server.launch",
      ]) {
        assert.ok(actions.has(a), `audit has ${a}`);
      }
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", CLI, "audit", "verify", "--json"],
        { env: { ...process.env, STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken } },
      );
      const verified = JSON.parse(stdout) as AuditVerifyView;
      assert.equal(verified.ok, true, JSON.stringify(verified.broken));
      assert.ok(verified.entries >= audit.entries.length);
    });
  },
);
