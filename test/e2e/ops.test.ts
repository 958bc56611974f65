import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { runCliBatch } from "../../src/cli/capture.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { parseExposition, total } from "../../src/lib/metrics/exposition.js";
import type { AuditView } from "../../src/wire/audit.js";
import type { ExecEvent } from "../../src/wire/ops.js";
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
  startTestPlane,
  type TestPlane,
  launchJoined,
} from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
/** Each agent serves /metrics on its own loopback address at this port (range 18400-18699). */
const METRICS_PORT = 18_400 + Math.floor(Math.random() * 300);

/** A `strata` process whose output the test reads as it comes. */
interface Live {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], env: Record<string, string>): Live {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe(
  "day-two operations: strata logs, strata exec, agent /metrics",
  { timeout: 600_000 },
  () => {
    let t: TestPlane;
    let env: Record<string, string>;
    let release: Release;
    const roots = new Map<string, string>();
    const addresses = new Map<string, string>();
    const live: Live[] = [];

    before(async () => {
      const octet = () => 10 + Math.floor(Math.random() * 240);
      t = await startTestPlane({
        apiPrefix: `127.82.${octet()}`,
        serverPrefix: `127.82.${octet()}`,
        agentEnv: { STRATA_METRICS_ADDRESS: `:${METRICS_PORT}` },
        yaml: ["ops: { idle_timeout: 3s }"],
      });
      env = { STRATA_SERVER: t.plane.url, STRATA_TOKEN: t.plane.adminToken };
      // The example app, printing a line for each request it serves (health checks aside).
      const original = await readFile(join(EXAMPLE_APP, "server.js"), "utf8");
      const chatty = original.replace(
        "const server = createServer((req, res) => {",
        'const server = createServer((req, res) => {\n  if (req.url !== "/healthz") console.log(`request ${req.url}`);',
      );
      assert.notEqual(chatty, original);
      const app = await variantOf(t.dir, { "server.js": chatty });
      await launchJoined(t.client, "web", 2);
      release = await build(t.client, app, "1.0.0");
      const d = await deployAndWait(t.client, { version: "1.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const s = await status(t.client);
      for (const server of s.servers) {
        roots.set(server.name, join(t.dir, "data", "servers", server.name));
        addresses.set(server.name, server.address);
      }
      assert.equal(roots.size, 2);
    });
    after(async () => {
      for (const l of live) if (l.child.exitCode === null) l.child.kill("SIGKILL");
      await t?.close();
    });

    test("logs: the last lines of every server's app, prefixed by server; --on, --lines, --agent, --json", async () => {
      const [web1, web2] = [...roots.keys()].sort();
      const [all, one, agent, json, badLines, noGroup] = await runCliBatch([
        { args: ["logs", "--group", "web"], env },
        { args: ["logs", "--group", "web", "--on", web2!, "--lines", "1"], env },
        { args: ["logs", "--group", "web", "--agent", "--lines", "50"], env },
        { args: ["logs", "--group", "web", "--since", "1h", "--json"], env },
        { args: ["logs", "--group", "web", "--lines", "0"], env },
        { args: ["logs", "--group", "nope"], env },
      ]);
      assert.equal(all!.code, EXIT.OK, all!.stderr);
      for (const name of [web1, web2]) {
        assert.match(all!.stdout, new RegExp(`^${name} \\| hello 1\\.0\\.0 listening on`, "m"));
      }
      assert.equal(one!.code, EXIT.OK, one!.stderr);
      assert.equal(one!.stdout.trim().split("\n").length, 1, one!.stdout);
      assert.doesNotMatch(one!.stdout, /\|/, "one server: no prefix");
      assert.equal(agent!.code, EXIT.OK, agent!.stderr);
      assert.match(agent!.stdout, new RegExp(`${web1} \\| \\{.*"msg":"joined `));
      assert.equal(json!.code, EXIT.OK, json!.stderr);
      const doc = JSON.parse(json!.stdout) as { servers: { server: string; lines: string[] }[] };
      assert.deepEqual(doc.servers.map((s) => s.server).sort(), [web1, web2]);
      for (const s of doc.servers) assert.ok(s.lines.some((l) => l.includes("listening on")));
      assert.equal(badLines!.code, EXIT.USAGE);
      assert.equal(noGroup!.code, EXIT.USAGE, noGroup!.stderr);
      assert.match(noGroup!.stderr, /no group nope/);
    });

    test("logs --follow streams new lines until Ctrl-C, then exits 0", async () => {
      const [name] = [...roots.keys()].sort();
      const follow = spawnCli(["logs", "--group", "web", "--follow", "--lines", "1"], env);
      live.push(follow);
      await waitFor("the first lines", async () => follow.stdout().includes("| "));
      const res = await get(`http://${addresses.get(name!)}:8080/marker`);
      assert.equal(res.status, 404, "any path is a request it logs");
      await waitFor("the new line, followed", async () =>
        follow.stdout().includes(`${name} | request /marker`),
      );
      follow.child.kill("SIGINT");
      assert.equal(await follow.exited, 0, follow.stderr());
    });

    test("logs --follow ends when a server goes away (killed: no answer; stopped: said so)", async () => {
      const [, name] = [...roots.keys()].sort();
      const follow = spawnCli(["logs", "--group", "web", "--on", name!, "-f", "--agent"], env);
      live.push(follow);
      await waitFor("the first lines", async () => follow.stdout().length > 0);
      const pid = agentPid(roots.get(name!)!);
      assert.ok(pid, "the agent runs");
      process.kill(pid, "SIGKILL");
      assert.equal(await follow.exited, EXIT.FAILED);
      assert.match(
        follow.stderr(),
        new RegExp(`${name}: \\[ops\\] ${name}: no answer from its agent`),
      );

      await launchJoined(t.client, "solo", 1);
      const solo = spawnCli(["logs", "--group", "solo", "--agent", "-f"], env);
      live.push(solo);
      await waitFor("the solo agent's lines", async () => solo.stdout().includes("joined"));
      await t.client.post("/v1/fleet/down", { group: "solo" });
      assert.equal(await solo.exited, EXIT.FAILED);
      assert.match(solo.stderr(), /: \[agent\] stopping/);
    });

    test("no secret of the control plane or the agent in logs or exec output", async () => {
      const [name] = [...roots.keys()].sort();
      const root = roots.get(name!)!;
      const agentToken = (
        JSON.parse(await readFile(join(root, "agent.json"), "utf8")) as { token: string }
      ).token;
      await appendFile(join(root, "app.log"), `admin ${t.plane.adminToken} agent ${agentToken}\n`);
      const [logs, exec] = await runCliBatch([
        { args: ["logs", "--group", "web", "--on", name!, "--lines", "5"], env },
        {
          args: ["exec", "--group", "web", "--on", name!, "--", "echo", t.plane.adminToken],
          env,
        },
      ]);
      assert.equal(logs!.code, EXIT.OK, logs!.stderr);
      assert.match(logs!.stdout, /admin \[redacted\] agent \[redacted\]/);
      assert.equal(exec!.code, EXIT.OK, exec!.stderr);
      for (const run of [logs!, exec!]) {
        assert.ok(!run.stdout.includes(t.plane.adminToken), "no admin token");
        assert.ok(!run.stdout.includes(agentToken), "no agent token");
      }
    });

    test("exec gets the app's secrets and STRATA_RELEASE_VERSION, as the app does, and never shows them (exec ran without secrets)", async () => {
      const [name] = [...roots.keys()].sort();
      const value = `exec-secret-${randomBytes(12).toString("hex")}`;
      await t.client.request("PUT", "/v1/apps/hello/secrets/DB_PASSWORD", { value });
      try {
        const script =
          'echo "length=${#DB_PASSWORD} version=$STRATA_RELEASE_VERSION"; printenv DB_PASSWORD';
        const [exec, json] = await runCliBatch([
          { args: ["exec", "--group", "web", "--on", name!, "--", "sh", "-c", script], env },
          { args: ["exec", "--group", "web", "--json", "--", "printenv", "DB_PASSWORD"], env },
        ]);
        assert.equal(exec!.code, EXIT.OK, exec!.stderr + exec!.stdout);
        assert.match(
          exec!.stdout,
          new RegExp(`^${name} \\| length=${value.length} version=1\\.0\\.0$`, "m"),
        );
        assert.match(exec!.stdout, /\| \[redacted\]$/m, "the value is replaced in the output");
        assert.equal(json!.code, EXIT.OK, json!.stderr);
        const summary = JSON.parse(json!.stdout) as Extract<ExecEvent, { type: "summary" }>;
        assert.deepEqual(
          summary.results.map((r) => r.output),
          ["[redacted]\n", "[redacted]\n"],
        );
        const agentLogs = await Promise.all(
          [...roots.values()].map((root) => readFile(join(root, "logs", "agent.log"), "utf8")),
        );
        const audit = JSON.stringify(await t.client.get("/v1/audit?limit=100"));
        for (const text of [exec!.stdout, exec!.stderr, json!.stdout, audit, ...agentLogs])
          assert.ok(!text.includes(value), "the value is never printed or logged");
      } finally {
        await t.client.request("DELETE", "/v1/apps/hello/secrets/DB_PASSWORD");
      }
    });

    test("exec runs in the current release on each server, in batches, prefixed; exit 1 if any failed; audited", async () => {
      const [web1, web2] = [...roots.keys()].sort();
      const script = 'echo "release=$STRATA_RELEASE_ID greeting=$GREETING"; pwd';
      const [ok, failing, batched, json, timeout] = await runCliBatch([
        { args: ["exec", "--group", "web", "--", "sh", "-c", script], env },
        {
          args: ["exec", "--group", "web", "--", "sh", "-c", `[ "$(hostname)" = never ] || exit 3`],
          env,
        },
        { args: ["exec", "--group", "web", "--batch", "1", "--", "true"], env },
        { args: ["exec", "--group", "web", "--json", "--", "echo", "hi"], env },
        {
          args: ["exec", "--group", "web", "--on", web1!, "--timeout", "1s", "--", "sleep", "30"],
          env,
        },
      ]);
      assert.equal(ok!.code, EXIT.OK, ok!.stderr);
      for (const name of [web1, web2]) {
        assert.match(
          ok!.stdout,
          new RegExp(`^${name} \\| release=${release.id} greeting=hello$`, "m"),
        );
        assert.match(ok!.stdout, new RegExp(`^${name} \\| .*/releases/sha256-`, "m"));
        assert.match(ok!.stdout, new RegExp(`^${name}: exit 0`, "m"));
      }
      assert.match(ok!.stdout, /ok on 2\/2 servers/);
      assert.equal(failing!.code, EXIT.FAILED);
      assert.match(failing!.stdout, new RegExp(`^${web1}: exit 3`, "m"));
      assert.match(failing!.stdout, /failed on 2\/2 servers/);
      assert.equal(batched!.code, EXIT.OK, batched!.stderr);
      assert.match(batched!.stderr, /batch 1\/2: .*\nbatch 2\/2: /);
      assert.equal(json!.code, EXIT.OK, json!.stderr);
      const summary = JSON.parse(json!.stdout) as Extract<ExecEvent, { type: "summary" }>;
      assert.equal(summary.ok, true);
      assert.deepEqual(
        summary.results.map((r) => [r.output, r.exit_code]),
        [
          ["hi\n", 0],
          ["hi\n", 0],
        ],
      );
      assert.equal(timeout!.code, EXIT.FAILED);
      assert.match(
        timeout!.stdout,
        new RegExp(`^${web1}: \\[agent\\] exec: timed out after 1000 ms`, "m"),
      );

      const audit = await t.client.get<AuditView>("/v1/audit?limit=100");
      const entry = audit.entries.find(
        (e) => e.action === "ops.exec" && JSON.stringify(e.detail).includes("greeting"),
      );
      assert.ok(entry, "exec is audited");
      assert.equal(entry.actor, "admin");
      assert.equal(entry.subject, "web");
      assert.deepEqual((entry.detail as { argv: string[] }).argv, ["sh", "-c", script]);
    });

    test("Ctrl-C on exec stops the command on the servers (exit 130)", async () => {
      const [name] = [...roots.keys()].sort();
      // A duration no other process here sleeps for, to find it in ps.
      const marker = String(200 + Math.floor(Math.random() * 700));
      const running = () =>
        execFileSync("ps", ["-eo", "args="], { encoding: "utf8" })
          .split("\n")
          .some((line) => line.trim() === `sleep ${marker}`);
      const exec = spawnCli(["exec", "--group", "web", "--on", name!, "--", "sleep", marker], env);
      live.push(exec);
      await waitFor("the command to run on the server", async () => running());
      exec.child.kill("SIGINT");
      assert.equal(await exec.exited, EXIT.INTERRUPTED, exec.stderr());
      await waitFor("the command to be stopped", async () => !running());
    });

    test("exec is an admin's: a deployer token gets 403; bad input gets 400 naming the field", async () => {
      const { token } = await t.client.post<{ token: string }>("/v1/tokens", {
        name: "ci-deployer",
        role: "deployer",
      });
      const call = (path: string, init: RequestInit, bearer = t.plane.adminToken) =>
        fetch(t.plane.url + path, {
          ...init,
          headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        });
      const body = JSON.stringify({ group: "web", argv: ["true"] });
      const forbidden = await call("/v1/exec", { method: "POST", body }, token);
      assert.equal(forbidden.status, 403);
      const viewerLogs = await call("/v1/logs?group=web&lines=1", {}, token);
      assert.equal(viewerLogs.status, 200, "reading logs is a read");
      await viewerLogs.body?.cancel();
      const cases: [string, RequestInit, RegExp][] = [
        ["/v1/exec", { method: "POST", body: JSON.stringify({ group: "web", argv: [] }) }, /argv/],
        [
          "/v1/exec",
          { method: "POST", body: JSON.stringify({ group: "web", argv: ["x"], timeout: "2h" }) },
          /timeout/,
        ],
        [
          "/v1/exec",
          { method: "POST", body: JSON.stringify({ group: "web", argv: ["x"], nope: 1 }) },
          /nope/,
        ],
        ["/v1/logs?group=web&lines=0", {}, /lines/],
        ["/v1/logs?group=web&since=10", {}, /since/],
        ["/v1/logs?group=web&source=db", {}, /source/],
      ];
      for (const [path, init, field] of cases) {
        const res = await call(path, init);
        assert.equal(res.status, 400, path);
        assert.match(((await res.json()) as { error: { message: string } }).error.message, field);
      }
      const agentPath = await call("/v1/agents/tasks", {});
      assert.equal(agentPath.status, 401, "the task channel takes agent tokens only");
      // The agent token is checked before the body is read: a megabyte without one gets 401, not 413.
      const big = await call("/v1/agents/tasks/00000000-0000-0000-0000-000000000000/output", {
        method: "POST",
        body: JSON.stringify({ data: "x".repeat(1024 * 1024) }),
      });
      assert.equal(big.status, 401);
    });

    test("every agent serves /metrics: step durations, deploy outcomes, health checks, fetch bytes, app restarts", async () => {
      const [name] = [...roots.keys()].sort();
      const url = `http://${addresses.get(name!)}:${METRICS_PORT}/metrics`;
      const scrape = async () => {
        const res = await fetch(url);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
        return parseExposition(await res.text());
      };
      // The agent killed above came back; its counters start again, so deploy once more.
      const v2 = await build(t.client, await variantOf(t.dir, { "message.txt": "two\n" }), "2.0.0");
      const d = await deployAndWait(t.client, { version: "2.0.0" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      const families = await waitFor("health checks counted", async () => {
        const f = await scrape();
        return total(f, "strata_agent_health_checks_total", { result: "pass" }) > 0 ? f : null;
      });
      assert.ok(total(families, "strata_agent_deploys_total", { outcome: "converged" }) >= 1);
      assert.ok(
        total(families, "strata_agent_step_duration_seconds_count", { step: "health_check" }) >= 1,
      );
      assert.ok(total(families, "strata_agent_fetch_bytes_total") >= v2.size);
      assert.equal(total(families, "strata_agent_info", { server: name!, group: "web" }), 1);

      const before = total(families, "strata_agent_app_restarts_total");
      const [exec] = await runCliBatch([
        {
          args: [
            "exec",
            "--group",
            "web",
            "--on",
            name!,
            "--",
            "sh",
            "-c",
            "kill $(cat ../../app.pid)",
          ],
          env,
        },
      ]);
      assert.equal(exec!.code, EXIT.OK, exec!.stdout + exec!.stderr);
      await waitFor(
        "the restart counted",
        async () => total(await scrape(), "strata_agent_app_restarts_total") > before,
      );
      assert.equal((await fetch(url.replace("/metrics", "/other"))).status, 404);
    });

    test("logs --follow says so when the control plane goes away (exit 3), and works after its restart", async () => {
      const follow = spawnCli(["logs", "--group", "web", "-f", "--lines", "1"], env);
      live.push(follow);
      await waitFor("the first lines", async () => follow.stdout().includes("| "));
      await t.restart();
      assert.equal(await follow.exited, EXIT.UNAVAILABLE, follow.stderr());
      assert.match(follow.stderr(), /the control plane's stream broke/);
      const [again] = await waitFor("the agents to poll the new control plane", async () => {
        const runs = await runCliBatch([{ args: ["logs", "--group", "web", "--lines", "1"], env }]);
        return runs[0]!.code === EXIT.OK ? runs : null;
      });
      assert.match(again!.stdout, /\| /);
    });
  },
);
