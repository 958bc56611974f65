import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Command } from "commander";
import type { ApiClient } from "../../src/cli/client.js";
import { runCliBatch, type CliInvocation } from "../../src/cli/capture.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { parseExposition, total } from "../../src/lib/metrics/exposition.js";
import { buildProgram, walk } from "../../src/cli/program.js";
import type { ControlPlane } from "../../src/server/control-plane.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { EventView } from "../../src/wire/forecast.js";
import {
  build,
  deployAndWait,
  EXAMPLE_APP,
  status,
  variantOf,
  waitFor,
  waitForDeployment,
  waitForServing,
  launchJoined,
  postTraffic,
  startTestPlane,
  type TestPlane,
} from "./harness.js";

const H = 3_600_000;

/** `deployments show` for the `show` subcommand of `deployments`. */
const pathOf = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

describe("the strata CLI against a real control plane", { timeout: 600_000 }, () => {
  let testPlane: TestPlane;
  let dir = "";
  let plane: ControlPlane;
  let client: ApiClient;
  let env: Record<string, string> = {};
  let first: DeploymentView;

  before(async () => {
    testPlane = await startTestPlane({
      apiPrefix: "127.50.0",
      serverPrefix: "127.50.1",
      yaml: [
        "deploy: { server_timeout: 60s, drain_timeout: 1s }",
        "forecast: { min_history: 7d }",
        "scaling: { web: { capacity_per_server: 50 } }",
      ],
    });
    ({ dir, plane, client } = testPlane);
    env = { STRATA_SERVER: plane.url, STRATA_TOKEN: plane.adminToken };
    await launchJoined(client, "web", 1);
    await build(client, await variantOf(dir, { "message.txt": "one\n" }), "1.0.0");
    await build(client, await variantOf(dir, { "message.txt": "two\n" }), "2.0.0");
    first = await deployAndWait(client, { version: "1.0.0" });
    assert.equal(first.state, "succeeded", first.error ?? "");
    await waitForServing(client, "web", 1, "1.0.0");
    // Eight days of traffic, so that a forecast can run.
    const end = Math.floor(Date.now() / H) * H;
    await postTraffic(client, "hello", end - 8 * 24 * H, end, (t) =>
      Math.round(50 + 20 * Math.sin((2 * Math.PI * t) / (24 * H))),
    );
  });
  after(async () => {
    await testPlane?.close();
  });

  test("rough edges a new user hit (issue 15, defects 8, 11 and 13)", async () => {
    const [nope, down, scale, deploy, images] = await runCliBatch([
      { args: ["status", "--group", "nope"], env },
      { args: ["fleet", "down"], env },
      { args: ["fleet", "scale", "--group", "web", "--count", "0"], env },
      { args: ["deploy", "hello@2.0.0", "--group", "web"], env },
      { args: ["images", "--json"], env },
    ]);
    assert.equal(nope!.code, EXIT.USAGE);
    assert.match(nope!.stderr, /group "nope" does not exist \(groups: web\)/);
    for (const refused of [down!, scale!]) {
      assert.equal(refused.code, EXIT.USAGE, refused.stderr);
      assert.match(refused.stderr, /No terminal to confirm on: pass --yes/);
    }
    assert.equal((await status(client)).servers.length, 1, "nothing was terminated");
    // Piped, with stdout and stderr in one log: the outcome once, each step once.
    assert.equal(deploy!.code, EXIT.OK, deploy!.stderr);
    const log = deploy!.stdout + deploy!.stderr;
    assert.equal(log.match(/deployment \S+ succeeded/g)?.length, 1, log);
    assert.match(deploy!.stdout, /^deployment \S+ succeeded in/);
    assert.match(deploy!.stderr, /wave 1: web-1\n.*web-1: (draining|deploying)/);
    const lines = deploy!.stderr.split("\n").map((l) => l.replace(/^\[[^\]]*\]/, ""));
    const steps = lines.filter((l) => / web-1: deploying \w+ (ok|failed)/.test(l));
    assert.ok(steps.length > 0, deploy!.stderr);
    assert.equal(new Set(steps).size, steps.length, "no step line twice");
    const view = JSON.parse(images!.stdout) as { images: { in_use: string[] }[] };
    for (const image of view.images) assert.ok(Array.isArray(image.in_use));
  });

  test("releases, audit and stored traffic from the CLI", async () => {
    const [releases, audit, nobody, traffic, trafficText, badSince] = await runCliBatch([
      { args: ["releases", "--app", "hello", "--json"], env },
      { args: ["audit", "--since", "10m", "--json"], env },
      { args: ["audit", "--actor", "nobody"], env },
      { args: ["traffic", "show", "--app", "hello", "--since", "2h", "--json"], env },
      { args: ["traffic", "show", "--app", "hello", "--since", "2d"], env },
      { args: ["audit", "--since", "10"], env },
    ]);
    const listed = JSON.parse(releases!.stdout) as {
      releases: { version: string; desired_by: string[]; running_on: string[] }[];
    };
    assert.deepEqual(listed.releases.map((r) => r.version).sort(), ["1.0.0", "2.0.0"]);
    const current = listed.releases.find((r) => r.desired_by.includes("web"));
    assert.ok(current && current.running_on.includes("web-1"), releases!.stdout);

    const entries = (JSON.parse(audit!.stdout) as { entries: { action: string; at: string }[] })
      .entries;
    assert.ok(entries.some((e) => e.action === "deploy.start"));
    assert.ok(entries.every((e) => Date.now() - Date.parse(e.at) < 11 * 60_000));
    assert.equal(nobody!.stdout.trim(), "no audit entries");

    const series = JSON.parse(traffic!.stdout) as { step: string; points: { total: number }[] };
    assert.equal(series.step, "minute");
    assert.ok(series.points.length >= 60 && series.points.every((p) => p.total >= 30));
    assert.match(trafficText!.stdout, /^hello: [\d,]+ requests from .* \(per hour\), 0\.00% 5xx/);
    assert.match(trafficText!.stdout, /MINUTES\n/);
    assert.equal(badSince!.code, EXIT.USAGE);
    assert.match(badSince!.stderr, /--since: expected a duration with a unit/);
  });

  test("a maintenance lock refuses deployments until it is released", async () => {
    const [acquire, again, deploy, shown, release, releaseAgain] = await runCliBatch([
      { args: ["lock", "acquire", "--group", "web", "--message", "db migration"], env },
      { args: ["lock", "acquire", "--group", "web", "--message", "second"], env },
      { args: ["deploy", "hello@1.0.0", "--group", "web"], env },
      { args: ["lock", "status", "--group", "web", "--json"], env },
      { args: ["lock", "release", "--group", "web"], env },
      { args: ["lock", "release", "--group", "web"], env },
    ]);
    assert.equal(acquire!.code, EXIT.OK, acquire!.stderr);
    assert.match(acquire!.stdout, /locked web since .*: db migration/);
    assert.equal(again!.code, EXIT.FAILED);
    assert.match(again!.stderr, /locked already .*: db migration/);
    assert.equal(deploy!.code, EXIT.FAILED);
    assert.match(
      deploy!.stderr,
      /locked for maintenance .*db migration .*strata lock release --group web/,
    );
    assert.equal(
      (JSON.parse(shown!.stdout) as { lock: { message: string } }).lock.message,
      "db migration",
    );
    assert.equal(release!.code, EXIT.OK, release!.stderr);
    assert.equal(releaseAgain!.code, EXIT.USAGE, "not locked: nothing to release");
    const audit = await client.get<{ entries: { action: string }[] }>("/v1/audit?subject=web");
    for (const action of ["lock.acquire", "lock.release"])
      assert.ok(
        audit.entries.some((e) => e.action === action),
        action,
      );

    const post = (body: unknown) =>
      plane.api.request("/v1/groups/web/lock", {
        method: "POST",
        headers: {
          authorization: `Bearer ${plane.adminToken}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
      });
    for (const [body, field] of [
      [{ message: "" }, "message"],
      [{ message: "x", until: "noon" }, "body"],
      ["nope", "body"],
    ] as const) {
      const res = await post(body);
      assert.equal(res.status, 400);
      const { error } = (await res.json()) as { error: { message: string } };
      assert.match(error.message, new RegExp(`\\[server\\] ${field}`), error.message);
    }
  });

  test("deployments cancel stops after the current wave and rolls back what it switched", async (t) => {
    // The release's before_switch hook waits while `hold` exists, so the deployment is caught running.
    const hold = join(dir, "hold");
    await writeFile(hold, "");
    t.after(() => rm(hold, { force: true }));
    const yaml = (await readFile(join(EXAMPLE_APP, "strata.yaml"), "utf8")).replace(
      /before_switch: .*/,
      `before_switch: { command: 'while [ -e "${hold}" ]; do sleep 0.1; done', timeout: 2m }`,
    );
    await build(
      client,
      await variantOf(dir, { "strata.yaml": yaml, "message.txt": "held\n" }),
      "9.0.0",
    );
    const before = (await status(client)).servers[0]!.version;
    const started = await client.post<DeploymentView>("/v1/deployments", {
      app: "hello",
      group: "web",
      version: "9.0.0",
    });
    await waitFor("the hook to hold the deployment", async () => {
      const d = await client.get<DeploymentView>(`/v1/deployments/${started.id}`);
      return d.servers.some((s) => s.steps.some((x) => x.name === "before_switch"));
    });
    const [cancelled] = await runCliBatch([
      { args: ["deployments", "cancel", started.id, "--detach"], env },
    ]);
    assert.equal(cancelled!.code, EXIT.OK, cancelled!.stderr);
    assert.match(cancelled!.stdout, /cancel recorded/);
    await rm(hold);
    const [followed, late] = await runCliBatch([
      { args: ["deployments", "cancel", started.id, "--json"], env },
      { args: ["deployments", "cancel", "d-nope"], env },
    ]);
    // The deployment may have ended before the second cancel: then it is refused as not running.
    const final = await waitForDeployment(client, started.id);
    assert.notEqual(final.state, "succeeded");
    assert.match(final.error ?? "", /cancelled by the operator/);
    if (followed!.code === EXIT.OK)
      assert.equal((JSON.parse(followed!.stdout) as DeploymentView).id, started.id);
    else assert.match(followed!.stderr, /is (rolled_back|failed), not running/);
    assert.equal(late!.code, EXIT.USAGE);
    await waitForServing(client, "web", 1, before ?? undefined);
  });

  test("/metrics serves the Prometheus text format: deployments, steps, waves, servers, balancer, scaling", async () => {
    const lb = (await status(client)).groups.find((g) => g.name === "web")!.balancer!;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`http://${lb}/`)).status, 200);
    const res = await fetch(`${plane.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const families = parseExposition(await res.text());
    assert.equal(families.get("strata_deployments_total")?.type, "counter");
    assert.equal(families.get("strata_deploy_step_duration_seconds")?.type, "histogram");
    assert.ok(
      total(families, "strata_deployments_total", { kind: "deploy", state: "succeeded" }) >= 1,
    );
    assert.ok(
      total(families, "strata_deployments_total", { state: "rolled_back" }) >= 1,
      "the cancel",
    );
    assert.ok(total(families, "strata_deployment_duration_seconds_count") >= 2);
    assert.ok(total(families, "strata_deploy_step_duration_seconds_count", { step: "fetch" }) >= 1);
    assert.ok(total(families, "strata_deploy_waves_total", { outcome: "succeeded" }) >= 1);
    assert.equal(total(families, "strata_servers", { group: "web", state: "ready" }), 1);
    assert.equal(total(families, "strata_servers_in_service", { group: "web" }), 1);
    assert.ok(
      total(families, "strata_balancer_requests_total", { group: "web", class: "2xx" }) >= 3,
    );
    assert.equal(total(families, "strata_balancer_errors_total", { group: "web" }), 0);
    assert.ok(total(families, "strata_scaling_actions_total", { action: "launch" }) >= 1);
    assert.equal(total(families, "strata_build_info"), 1);
  });

  // Issue 15, defect 3: `deployments show ID --json` and `images gc --dry-run --json` printed
  // text, because the parent's --json took the flag. Every command that documents --json is run
  // here with it and must print exactly one JSON document on stdout.
  test("every command that documents --json prints one JSON document with it (issue 15, defect 3)", async () => {
    const later = Date.now() + 30 * 24 * H;
    const event = await client.post<EventView>("/v1/apps/hello/events", {
      from: new Date(later).toISOString(),
      to: new Date(later + H).toISOString(),
      factor: 2,
      note: "to remove",
    });
    const log = join(dir, "access.log");
    await writeFile(
      log,
      '127.0.0.1 - - [01/Mar/2024:00:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n'.repeat(3),
    );
    const trace = join(dir, "trace.csv");
    const rows = ["time,count"];
    for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2024, 0, 10); t += H)
      rows.push(`${new Date(t).toISOString()},${100 + (new Date(t).getUTCHours() % 12)}`);
    await writeFile(trace, rows.join("\n") + "\n");
    const v3 = await variantOf(dir, { "message.txt": "three\n" });
    const fiveMinutes = join(dir, "trace-5m.csv");
    const steps = ["time,count"];
    for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2024, 1, 5); t += 300_000)
      steps.push(`${new Date(t).toISOString()},${50 + (new Date(t).getUTCHours() % 12) * 10}`);
    await writeFile(fiveMinutes, steps.join("\n") + "\n");

    const secretFile = join(dir, "walk-secret");
    await writeFile(secretFile, "walk value\n");
    const runs: Record<string, string[]> = {
      status: ["status", "--json"],
      "fleet up": ["fleet", "up", "--group", "web", "--count", "1", "--json"],
      "fleet scale": ["fleet", "scale", "--group", "web", "--count", "1", "--json"],
      build: ["build", v3, "--app", "hello", "--version", "3.0.0", "--json"],
      deploy: ["deploy", "hello@2.0.0", "--group", "web", "--json"],
      rollback: ["rollback", "hello", "--group", "web", "--json"],
      "app restart": ["app", "restart", "--group", "web", "--json"],
      "app stop": ["app", "stop", "--group", "web", "--yes", "--json"],
      "app start": ["app", "start", "--group", "web", "--batch", "2", "--json"],
      check: ["check", v3, "--group", "web", "--json"],
      "secrets set": [
        "secrets",
        "set",
        "WALK",
        "--app",
        "hello",
        "--value-file",
        secretFile,
        "--json",
      ],
      "secrets list": ["secrets", "list", "--app", "hello", "--json"],
      "secrets rm": ["secrets", "rm", "WALK", "--app", "hello", "--yes", "--json"],
      "deployments list": ["deployments", "--json"],
      "deployments show": ["deployments", "show", first.id, "--json"],
      bake: ["bake", "--group", "web", "--json"],
      "images list": ["images", "--json"],
      "images gc": ["images", "gc", "--dry-run", "--json"],
      ingest: ["ingest", log, "--app", "hello", "--json"],
      "forecast run": ["forecast", "run", "hello", "--json"],
      "forecast show": ["forecast", "show", "hello", "--json"],
      "forecast backtest": [
        ...["forecast", "backtest", "--input", trace, "--time-column", "time"],
        ...["--value-column", "count", "--min-history", "7d", "--json"],
      ],
      "events add": [
        ...["events", "add", "hello", "--from", new Date(later + 2 * H).toISOString()],
        ...["--to", new Date(later + 3 * H).toISOString(), "--factor", "1.5", "--json"],
      ],
      "events list": ["events", "list", "hello", "--json"],
      "events rm": ["events", "rm", "hello", String(event.id), "--json"],
      releases: ["releases", "--json"],
      "agent install": [
        ...["agent", "install", "--group", "web", "--root", join(dir, "srv")],
        ...["--address", "127.50.1.99", "--dry-run", "--json"],
      ],
      "lock acquire": ["lock", "acquire", "--group", "web", "--message", "walk", "--json"],
      "lock status": ["lock", "status", "--group", "web", "--json"],
      "lock release": ["lock", "release", "--group", "web", "--json"],
      "init server": ["init", "server", "--dir", dir, "--json"],
      "init app": ["init", "app", "--dir", v3, "--force", "--json"],
      "audit list": ["audit", "--since", "1h", "--actor", "control-plane", "--json"],
      "audit verify": ["audit", "verify", "--json"],
      "traffic show": ["traffic", "show", "--app", "hello", "--json"],
      "tokens create": ["tokens", "create", "ci", "--role", "viewer", "--json"],
      "tokens list": ["tokens", "list", "--json"],
      "tokens revoke": ["tokens", "revoke", "ci", "--json"],
      "tokens join": ["tokens", "join", "--name", "web-77", "--group", "web", "--json"],
      "tokens revoke-agent": ["tokens", "revoke-agent", "web-77", "--json"],
      "tokens rotate": ["tokens", "rotate", "--group", "web", "--json"],
      simulate: [
        ...["simulate", "--input", fiveMinutes, "--time-column", "time", "--value-column", "count"],
        ...["--policy", "static", "--json"],
      ],
      "scale plan": ["scale", "plan", "--group", "web", "--json"],
      "scale status": ["scale", "status", "--group", "web", "--json"],
      "scale set": ["scale", "set", "--group", "web", "--mode", "off", "--json"],
      dashboard: ["dashboard", "--json"],
      // Last: it takes the servers away.
      "fleet down": ["fleet", "down", "--group", "web", "--json"],
      "build another app": ["build", v3, "--app", "walk", "--version", "1.0.0", "--json"],
      "build its next version": ["build", v3, "--app", "walk", "--version", "1.1.0", "--json"],
      "release rm": ["release", "rm", "walk@1.0.0", "--yes", "--json"],
      "app rm": ["app", "rm", "walk", "--yes", "--json"],
      "group rm": ["group", "rm", "web", "--yes", "--json"],
    };
    const documented = [...walk(buildProgram())]
      .filter((cmd) => cmd.options.some((o) => o.long === "--json"))
      .map(pathOf);
    // Checked with --json in their own tests: cancel catches a deployment running; logs and
    // exec need servers heartbeating (test/e2e/ops.test.ts); lay-release a packed tarball
    // (src/cli/commands/lay-release.test.ts).
    const elsewhere = ["deployments cancel", "logs", "exec", "agent lay-release"];
    const missing = documented.filter((path) => !(path in runs) && !elsewhere.includes(path));
    assert.deepEqual(missing, [], "each command documenting --json has a run in this test");

    const names = Object.keys(runs);
    const results = await runCliBatch(names.map((n): CliInvocation => ({ args: runs[n]!, env })));
    names.forEach((name, i) => {
      const run = results[i]!;
      assert.equal(run.code, EXIT.OK, `strata ${name}: exit ${run.code}: ${run.stderr}`);
      assert.doesNotThrow(() => JSON.parse(run.stdout), `strata ${name} --json: ${run.stdout}`);
      assert.match(run.stdout.trim(), /^[{[][\s\S]*[}\]]$/, `strata ${name}: one document`);
    });
  });
});
