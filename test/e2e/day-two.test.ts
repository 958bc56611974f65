// Day-two operations (issue 15) through the real control plane and real agent processes:
// `strata app restart|stop|start` as deployments in waves, a stop that survives an agent
// restart, maintenance locks that survive a control-plane restart.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { LockStatusView } from "../../src/wire/lock.js";
import type { PreflightView } from "../../src/wire/day-two.js";
import type { SecretsView } from "../../src/wire/secrets.js";
import { runCliBatch } from "../../src/cli/capture.js";
import { buildRelease } from "../../src/cli/commands/build.js";
import type { StatusView } from "../../src/wire/server.js";
import { STOPPED_MARKER } from "../../src/runtime/current-app.js";
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
} from "./harness.js";

const STRATA = fileURLToPath(new URL("../../bin/strata.js", import.meta.url));

/** Files under `dir` whose bytes contain `needle` (sockets and the like skipped). */
function filesContaining(dir: string, needle: Buffer): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if (readFileSync(path).includes(needle)) found.push(path);
  }
  return found;
}

const rootOf = (t: TestPlane, server: string) => join(t.plane.dataDir, "servers", server);

/** The app's process id on a server, from the supervisor's pid file; null when none runs. */
function appPid(t: TestPlane, server: string): number | null {
  const file = join(rootOf(t, server), "app.pid");
  return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function act(t: TestPlane, action: string, body: object = {}): Promise<DeploymentView> {
  const started = await t.client.post<DeploymentView>(`/v1/groups/web/app/${action}`, body);
  return waitForDeployment(t.client, started.id);
}

describe("strata app restart|stop|start and maintenance locks", { timeout: 600_000 }, () => {
  let t: TestPlane;
  let servers: string[];

  before(async () => {
    t = await startTestPlane({ apiPrefix: "127.83.1", serverPrefix: "127.83.2" });
    await t.client.post("/v1/fleet/up", { group: "web", count: 2 });
    await build(t.client, EXAMPLE_APP, "1.0.0");
    const first = await deployAndWait(t.client, { version: "1.0.0" });
    assert.equal(first.state, "succeeded", first.error ?? "");
    servers = (await waitForServing(t.client, "web", 2, "1.0.0")).servers.map((s) => s.name);
  });
  after(async () => {
    await t?.close();
  });

  test("restart replaces every app process in waves, drained first, as a deployment of its own kind", async () => {
    const before = servers.map((s) => appPid(t, s));
    assert.ok(before.every((pid) => pid !== null));
    const d = await act(t, "restart", { batch: "1" });
    assert.equal(d.state, "succeeded", d.error ?? "");
    assert.equal(d.kind, "restart");
    assert.equal(d.version, "1.0.0");
    assert.equal(d.waves, 2, "one server per wave");
    for (const s of d.servers) {
      assert.equal(s.state, "succeeded", `${s.name}: ${s.error}`);
      assert.ok(
        s.steps.some((step) => step.name === "restart" && step.state === "ok"),
        `${s.name} restarted: ${JSON.stringify(s.steps)}`,
      );
      assert.ok(!s.steps.some((step) => step.name === "fetch"), "nothing fetched");
    }
    const after = servers.map((s) => appPid(t, s));
    for (const [i, pid] of after.entries()) {
      assert.ok(pid !== null && pid !== before[i], `${servers[i]}: a new app process`);
    }
    const { deployments } = await t.client.get<{ deployments: DeploymentView[] }>(
      "/v1/deployments",
    );
    assert.equal(deployments[0]?.id, d.id, "listed among the deployments");
    const audit = await t.client.get<{ entries: { action: string; subject: string }[] }>(
      "/v1/audit?limit=200",
    );
    const out = audit.entries.filter((e) => e.action === "server.out_of_service");
    assert.ok(
      servers.every((name) => out.some((e) => e.subject === name)),
      "each server left the balancer while it restarted",
    );
    assert.ok(audit.entries.some((e) => e.action === "restart.succeeded"));
    await waitForServing(t.client, "web", 2, "1.0.0");
  });

  test("a stopped app stays stopped across an agent restart and on a server that joins, until started; deploys are refused meanwhile", async () => {
    const pids = servers.map((s) => appPid(t, s)!);
    const stopped = await act(t, "stop", { batch: "2" });
    assert.equal(stopped.state, "succeeded", stopped.error ?? "");
    assert.equal(stopped.kind, "stop");
    assert.ok(
      pids.every((pid) => !alive(pid)),
      "the app processes are gone",
    );
    let s = await status(t.client);
    assert.ok(
      s.servers.every((x) => !x.in_service),
      "no stopped server is in service",
    );

    const victim = servers[0]!;
    const root = rootOf(t, victim);
    assert.ok(existsSync(join(root, STOPPED_MARKER)));
    const agent = agentPid(root);
    assert.ok(agent);
    const beatBefore = s.servers.find((x) => x.name === victim)!.last_heartbeat;
    process.kill(agent, "SIGKILL");
    // The local provider restarts a crashed agent, as systemd would.
    const beatOf = async () =>
      (await status(t.client)).servers.find((x) => x.name === victim)?.last_heartbeat;
    const firstBeat = await waitFor("the agent to come back and heartbeat", async () => {
      const pid = agentPid(root);
      const beat = await beatOf();
      return pid !== null && pid !== agent && beat !== beatBefore && beat;
    });
    // A second heartbeat: the restarted agent has read its desired state by then.
    await waitFor("another heartbeat of the restarted agent", async () => {
      const beat = await beatOf();
      return beat !== firstBeat && beat;
    });
    assert.equal(appPid(t, victim), null, "the restarted agent did not start the app");
    s = await status(t.client);
    assert.ok(!s.servers.find((x) => x.name === victim)!.in_service);

    const refused = await t.client
      .post("/v1/deployments", { app: "hello", group: "web", version: "1.0.0" })
      .then(
        () => null,
        (err: Error) => err,
      );
    assert.match(String(refused?.message), /stopped.*strata app start --group web/);
    const restartRefused = await t.client.post("/v1/groups/web/app/restart", {}).then(
      () => null,
      (err: Error) => err,
    );
    assert.match(String(restartRefused?.message), /stopped/);

    // Regression: a server that joined a stopped group started its app.
    const [joiner] = (
      await t.client.post<{ launched: string[] }>("/v1/fleet/up", { group: "web", count: 3 })
    ).launched;
    assert.ok(joiner, "a third server launched");
    const joinerRoot = rootOf(t, joiner);
    await waitFor("the joining server to apply its first desired state", async () =>
      existsSync(join(joinerRoot, STOPPED_MARKER)),
    );
    assert.equal(appPid(t, joiner), null, "the joining server did not start the app");
    s = await status(t.client);
    assert.ok(!s.servers.find((x) => x.name === joiner)!.in_service);

    const started = await act(t, "start");
    assert.equal(started.state, "succeeded", started.error ?? "");
    await waitForServing(t.client, "web", 3, "1.0.0");
    assert.ok(
      [...servers, joiner].every((name) => !existsSync(join(rootOf(t, name), STOPPED_MARKER))),
    );
    const scaled = await t.client.post<{ terminated: string[] }>("/v1/fleet/scale", {
      group: "web",
      count: 2,
    });
    assert.deepEqual(scaled.terminated, [joiner], "back to the two servers the later tests use");
  });

  test("bad input: an unknown action, a bad batch and an unknown group are 4xx", async () => {
    const statusOf = async (path: string, body: unknown) =>
      (
        await fetch(t.plane.url + path, {
          method: "POST",
          headers: {
            authorization: `Bearer ${t.plane.adminToken}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
        })
      ).status;
    assert.equal(await statusOf("/v1/groups/web/app/reboot", {}), 400);
    assert.equal(await statusOf("/v1/groups/web/app/restart", { batch: "x" }), 400);
    assert.equal(await statusOf("/v1/groups/web/app/restart", { nope: 1 }), 400);
    assert.equal(await statusOf("/v1/groups/nope/app/restart", {}), 404);
  });

  test("a restart left running by a control-plane restart resumes and finishes", async () => {
    const started = await t.client.post<DeploymentView>("/v1/groups/web/app/restart", {
      batch: "1",
    });
    await waitFor(
      "the restart's first wave",
      async () => {
        const d = await t.client.get<DeploymentView>(`/v1/deployments/${started.id}`);
        if (d.state !== "running") throw new Error(`finished (${d.state}) before its first wave`);
        return d.servers.some((s) => s.state === "draining" || s.state === "deploying");
      },
      60_000,
      5,
    );
    await t.restart();
    const d = await waitForDeployment(t.client, started.id);
    assert.equal(d.state, "succeeded", d.error ?? "");
    assert.ok(d.servers.every((s) => s.state === "succeeded"));
    await waitForServing(t.client, "web", 2, "1.0.0");
  });

  test("shared files and folders survive deploys and a rollback", async () => {
    const yaml = (version: string) =>
      [
        "start: node server.js",
        "port: 8080",
        "health: { path: /healthz, status: 200, timeout: 2s, retries: 30, interval: 200ms }",
        "shared: [log/, config/master.key]",
        `hooks: { before_switch: 'echo ${version} >> log/deploys.txt' }`,
      ].join("\n") + "\n";
    for (const version of ["2.0.0", "3.0.0"]) {
      const dir = await variantOf(t.dir, {
        "strata.yaml": yaml(version),
        "message.txt": `release ${version}\n`,
      });
      await mkdir(join(dir, "config"));
      await writeFile(join(dir, "config", "master.key"), `shipped in ${version}\n`);
      await build(t.client, dir, version);
    }
    for (const name of servers) {
      await mkdir(join(rootOf(t, name), "shared", "config"), { recursive: true });
      await writeFile(join(rootOf(t, name), "shared", "config", "master.key"), "the real key\n");
    }
    for (const version of ["2.0.0", "3.0.0"]) {
      const d = await deployAndWait(t.client, { version, batch: "2" });
      assert.equal(d.state, "succeeded", d.error ?? "");
    }
    const back = await t.client.post<DeploymentView>("/v1/rollbacks", {
      app: "hello",
      group: "web",
    });
    const rolled = await waitForDeployment(t.client, back.id);
    assert.equal(rolled.state, "succeeded", rolled.error ?? "");
    await waitForServing(t.client, "web", 2, "2.0.0");
    for (const name of servers) {
      const root = rootOf(t, name);
      assert.equal(
        readFileSync(join(root, "shared", "log", "deploys.txt"), "utf8"),
        "2.0.0\n3.0.0\n2.0.0\n",
        `${name}: every release's hook wrote into the one shared log/`,
      );
      assert.equal(
        readFileSync(join(root, "current", "config", "master.key"), "utf8"),
        "the real key\n",
      );
      assert.ok(lstatSync(join(root, "current", "log")).isSymbolicLink());
    }
  });

  test("strata check: every check with ok or FAIL and why; exit 1 when one fails", async () => {
    const env = { STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken };
    const wrongPath = await variantOf(t.dir, {
      "strata.yaml": "start: node server.js\nhealth: { path: /nope, retries: 0 }\n",
    });
    const invalid = await variantOf(t.dir, { "strata.yaml": "start: node server.js\nprot: 80\n" });
    const [good, noGroup, unhealthy, broken] = await runCliBatch(
      [
        ["check", EXAMPLE_APP, "--group", "web", "--json"],
        ["check", EXAMPLE_APP, "--group", "nope"],
        ["check", wrongPath, "--group", "web"],
        ["check", invalid, "--group", "web"],
      ].map((args) => ({ args, env })),
    );
    assert.equal(good!.code, 0, good!.stderr + good!.stdout);
    const view = JSON.parse(good!.stdout) as PreflightView;
    assert.equal(view.ok, true);
    for (const name of servers) {
      assert.ok(view.checks.some((c) => c.name === `${name} reachable` && c.ok));
      assert.ok(view.checks.some((c) => c.name === `${name} health` && c.ok));
    }
    assert.equal(noGroup!.code, 1);
    assert.match(noGroup!.stdout, /FAIL {2}group nope exists: no such group \(groups: web\)/);
    assert.equal(unhealthy!.code, 1);
    assert.match(unhealthy!.stdout, /ok {4}.*strata\.yaml valid/);
    assert.match(
      unhealthy!.stdout,
      /FAIL {2}\S+ health: GET http:\/\/.*\/nope: expected 200, got 404/,
    );
    assert.equal(broken!.code, 1);
    assert.match(broken!.stdout, /FAIL {2}.*strata\.yaml valid: .*prot/);
  });

  test("a secret reaches the app's environment and nowhere else in plaintext", async () => {
    const value = `s3cr3t-${randomBytes(12).toString("hex")}`;
    const env = { ...process.env, STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken };
    // A child process, never a synchronous one: this process serves the control plane.
    const cli = (args: string[], input = "") =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(process.execPath, [STRATA, ...args], { env }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
        child.stdin!.end(input);
      });
    // From stdin, as `printf %s "$X" | strata secrets set` or a paste would send it.
    await cli(["secrets", "set", "GREETING", "--app", "hello"], `${value}\n`);
    const listed = await cli(["secrets", "list", "--app", "hello", "--json"]);
    assert.deepEqual(
      (JSON.parse(listed) as SecretsView).secrets.map((x) => x.key),
      ["GREETING"],
    );
    assert.ok(!listed.includes(value));

    const restarted = await act(t, "restart", { batch: "2" });
    assert.equal(restarted.state, "succeeded", restarted.error ?? "");
    const s = await waitForServing(t.client, "web", 2);
    const balancer = s.groups.find((g) => g.name === "web")!.balancer!;
    const served = JSON.parse((await get(`http://${balancer}/`)).body) as { greeting: string };
    assert.equal(served.greeting, value, "the app sees the secret in its environment");

    const views = [
      JSON.stringify(await status(t.client)),
      JSON.stringify(await t.client.get("/v1/audit?limit=500")),
      JSON.stringify(await t.client.get("/v1/deployments")),
      await cli(["status", "--json"]),
    ];
    assert.ok(
      views.every((text) => !text.includes(value)),
      "not in status, audit or deployments",
    );
    const found = filesContaining(t.plane.dataDir, Buffer.from(value));
    assert.deepEqual(found, [], "no file of the data folder holds the value in plaintext");

    // Bad input and roles: 400 naming the field, 403 for a viewer, 404 for a missing secret.
    const send = async (method: string, path: string, body?: unknown, token = t.plane.adminToken) =>
      (
        await fetch(t.plane.url + path, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      ).status;
    assert.equal(await send("PUT", "/v1/apps/hello/secrets/PORT", { value: "1" }), 400);
    assert.equal(await send("PUT", "/v1/apps/hello/secrets/1BAD", { value: "1" }), 400);
    assert.equal(await send("PUT", "/v1/apps/hello/secrets/OK", { value: "" }), 400);
    assert.equal(await send("PUT", "/v1/apps/hello/secrets/OK", { value: "x", extra: 1 }), 400);
    const viewer = await t.client.post<{ token: string }>("/v1/tokens", {
      name: "secrets-viewer",
      role: "viewer",
    });
    assert.equal(await send("PUT", "/v1/apps/hello/secrets/OK", { value: "x" }, viewer.token), 403);
    assert.equal(await send("GET", "/v1/apps/hello/secrets", undefined, viewer.token), 200);
    assert.equal(await send("GET", "/v1/agents/secrets", undefined, viewer.token), 401);
    assert.equal(await send("DELETE", "/v1/apps/hello/secrets/NOPE"), 404);

    await cli(["secrets", "rm", "GREETING", "--app", "hello", "--yes"]);
    assert.deepEqual((await t.client.get<SecretsView>("/v1/apps/hello/secrets")).secrets, []);
    const audit = await t.client.get<{ entries: { action: string; subject: string }[] }>(
      "/v1/audit?limit=50",
    );
    assert.ok(
      audit.entries.some((e) => e.action === "secret.set" && e.subject === "hello/GREETING"),
    );
    assert.ok(
      audit.entries.some((e) => e.action === "secret.rm" && e.subject === "hello/GREETING"),
    );
  });

  test("a maintenance lock survives a control-plane restart until released", async () => {
    await t.client.post("/v1/groups/web/lock", { message: "db migration" });
    await t.restart();
    const held = await t.client.get<LockStatusView>("/v1/groups/web/lock");
    assert.equal(held.lock?.message, "db migration");
    const refused = await t.client
      .post("/v1/deployments", { app: "hello", group: "web", version: "1.0.0" })
      .then(
        () => null,
        (err: Error) => err,
      );
    assert.match(String(refused?.message), /locked for maintenance/);
    await t.client.request("DELETE", "/v1/groups/web/lock");
    assert.equal((await t.client.get<LockStatusView>("/v1/groups/web/lock")).lock, null);
  });

  test("removing things: never a release in use, a group only without servers unless --force, an app no group runs", async () => {
    const env = { STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken };
    const status = async (method: string, path: string) =>
      (
        await fetch(t.plane.url + path, {
          method,
          headers: { authorization: `Bearer ${t.plane.adminToken}` },
        })
      ).status;
    const unused = await variantOf(t.dir, { "message.txt": "never deployed\n" });
    const spare = await build(t.client, unused, "9.0.0");
    const otherApp = await variantOf(t.dir, { "message.txt": "another app\n" });
    await buildRelease(t.client, otherApp, "other", "1.0.0");
    const [running, rollbackTarget, removed, groupRefused, groupForced, appRefused, appRemoved] =
      await runCliBatch(
        [
          ["release", "rm", "hello@2.0.0", "--yes"],
          ["release", "rm", "hello@3.0.0", "--yes"],
          ["release", "rm", spare.id, "--yes", "--json"],
          ["group", "rm", "web", "--yes"],
          ["group", "rm", "web", "--force", "--yes", "--json"],
          ["app", "rm", "hello", "--yes"],
          ["app", "rm", "other", "--yes", "--json"],
        ].map((args) => ({ args, env })),
      );
    assert.equal(running!.code, 1);
    assert.match(running!.stderr, /hello@2\.0\.0 runs on web-/);
    assert.equal(rollbackTarget!.code, 1);
    assert.match(rollbackTarget!.stderr, /rollback target of group web/);
    assert.equal(removed!.code, 0, removed!.stderr);
    assert.equal(await status("GET", `/v1/releases/${spare.id}/artifact`), 404, "artifact gone");
    assert.equal(groupRefused!.code, 1);
    assert.match(groupRefused!.stderr, /servers run \(web-.*\); --force terminates them/);
    assert.equal(groupForced!.code, 0, groupForced!.stderr);
    assert.equal(
      (JSON.parse(groupForced!.stdout) as { terminated: string[] }).terminated.length,
      2,
    );
    const s = await t.client.get<StatusView>("/v1/status");
    assert.deepEqual(s.groups, [], "the group is gone");
    assert.ok(s.servers.every((x) => x.group !== "web"));
    assert.equal(await t.plane.store.images.channel("web:current"), null, "its channel is gone");
    assert.equal(await t.plane.balancer.members("web").then((m) => m.length), 0);
    assert.equal(appRefused!.code, 1, "hello's releases are bases of images");
    assert.match(appRefused!.stderr, /app rm: hello@.* is the base of image/);
    assert.equal(appRemoved!.code, 0, appRemoved!.stderr);
    assert.deepEqual((JSON.parse(appRemoved!.stdout) as { releases: string[] }).releases, [
      "other@1.0.0",
    ]);
    assert.equal(await status("DELETE", "/v1/apps/other"), 404);
    assert.equal(await status("DELETE", "/v1/groups/web"), 404);
    const audit = await t.client.get<{ entries: { action: string }[] }>("/v1/audit?limit=50");
    for (const action of ["release.rm", "group.rm", "app.rm"])
      assert.ok(
        audit.entries.some((e) => e.action === action),
        action,
      );
  });
});
