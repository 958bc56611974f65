import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { ApiClient } from "../../src/cli/client.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { StatusView } from "../../src/wire/server.js";
import {
  EXAMPLE_APP,
  agentPid,
  build,
  randomLoopbackPrefix,
  variantOf,
  waitFor,
  waitForDeployment,
  waitForServing,
} from "./harness.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

/** `strata server` as a process of its own, so it can be killed with SIGKILL. */
class ServerProcess {
  child: ChildProcess | null = null;
  constructor(
    readonly dataDir: string,
    readonly config: string,
    readonly listen: string,
  ) {}

  async start(): Promise<ApiClient> {
    await rm(join(this.dataDir, "server.json"), { force: true });
    this.child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        CLI,
        "--data-dir",
        this.dataDir,
        "server",
        "--config",
        this.config,
        "--listen",
        this.listen,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    const token = await waitFor("the control plane to write its token", async () =>
      (await readFile(join(this.dataDir, "admin-token"), "utf8").catch(() => "")).trim(),
    );
    const client = new ApiClient(`http://${this.listen}`, token);
    await waitFor("the control plane to answer", async () => {
      await readFile(join(this.dataDir, "server.json"));
      return (await fetch(`http://${this.listen}/v1/health`)).ok;
    });
    return client;
  }

  kill(): Promise<void> {
    const child = this.child!;
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }
}

/** Requests through the balancer without pause until stopped; counts every failure. */
function loadThrough(url: string) {
  let running = true;
  const result = { ok: 0, failed: [] as string[] };
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(url);
        await res.text();
        if (res.status === 200) result.ok++;
        else result.failed.push(`status ${res.status}`);
      } catch (err) {
        result.failed.push(String(err));
      }
    }
  })();
  return {
    result,
    stop: async () => {
      running = false;
      await loop;
      return result;
    },
  };
}

/** After each fault: one release per group, what runs is what is desired, nothing left open. */
async function assertSettled(client: ApiClient, version: string): Promise<void> {
  const s: StatusView = await waitForServing(client, "web", 3, version);
  const group = s.groups.find((g) => g.name === "web")!;
  assert.equal(group.desired_version, version);
  assert.deepEqual(new Set(s.servers.map((x) => x.release)), new Set([group.desired_release]));
  assert.ok(s.servers.every((x) => x.desired_release === group.desired_release));
  const { deployments } = await client.get<{ deployments: DeploymentView[] }>("/v1/deployments");
  assert.deepEqual(
    deployments.filter((d) => d.state === "running").map((d) => d.id),
    [],
  );
}

const CP_STEPS: [string, (d: DeploymentView) => boolean][] = [
  ["staging", (d) => d.servers.some((s) => s.state === "staging" || s.state === "staged")],
  [
    "wave 1 deploying",
    (d) =>
      d.servers.some((s) => s.wave === 1 && (s.state === "draining" || s.state === "deploying")),
  ],
  [
    "between waves",
    (d) =>
      d.servers.some((s) => s.wave === 2 && s.state === "succeeded") &&
      d.servers.some((s) => s.wave === 3 && s.state !== "succeeded"),
  ],
  [
    "wave 3 deploying",
    (d) =>
      d.servers.some((s) => s.wave === 3 && (s.state === "draining" || s.state === "deploying")),
  ],
];

/**
 * Where an agent is killed: the step is held open by a gate file (a hook, or
 * the app's start, waits while it exists), so the kill lands in that step
 * every time; the deploy must then converge once the agent is back.
 */
const GATE = 'while [ -e "$GATE_DIR/gate" ]; do touch "$GATE_DIR/reached"; sleep 0.02; done';
const AGENT_STEPS: [string, Record<string, string>][] = [
  ["before_switch", { "hooks/check.sh": `#!/bin/sh\n${GATE}\n` }],
  ["after_switch", { "hooks/mark-switched.sh": `#!/bin/sh\n${GATE}\n` }],
  ["health_check", { "start.sh": `#!/bin/sh\n${GATE}\nexec node server.js\n` }],
];

describe(
  "fault injection: SIGKILL of the control plane and of agents at each step of a deploy",
  { timeout: 900_000 },
  () => {
    let dir: string;
    let server: ServerProcess;
    let client: ApiClient;
    let balancerUrl: string;
    let release = 0;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "strata-faults-"));
      const api = randomLoopbackPrefix();
      const config = join(dir, "strata.yaml");
      await writeFile(
        config,
        [
          `provider: { local: { address_prefix: "${randomLoopbackPrefix()}" } }`,
          `balancer: { host: "${api}.1" }`,
          "heartbeat_interval: 300ms",
          "heartbeat_timeout: 5s",
          "deploy: { server_timeout: 60s, drain_timeout: 5s }",
        ].join("\n"),
      );
      server = new ServerProcess(
        join(dir, "data"),
        config,
        `${api}.1:${20_000 + Math.floor(Math.random() * 20_000)}`,
      );
      client = await server.start();
      await client.post("/v1/fleet/up", { group: "web", count: 3 });
      await build(client, EXAMPLE_APP, "1.0.0");
      await client.post("/v1/deployments", { app: "hello", group: "web", version: "1.0.0" });
      const s = await waitForServing(client, "web", 3, "1.0.0");
      balancerUrl = `http://${s.groups.find((g) => g.name === "web")!.balancer}/`;
    });
    after(async () => {
      // Stop the data plane through the API while the control plane is up, then the control plane.
      await client.post("/v1/fleet/down", { all: true }).catch(() => undefined);
      server.child?.kill("SIGTERM");
      await new Promise((r) => server.child?.once("exit", r));
      await rm(dir, { recursive: true, force: true });
    });

    async function newVersion(): Promise<string> {
      const version = `2.${release++}.0`;
      await build(client, await variantOf(dir, { "message.txt": `release ${version}\n` }), version);
      return version;
    }

    for (const [step, reached] of CP_STEPS) {
      test(`control plane killed while ${step}: the deploy finishes, no request fails`, async () => {
        const version = await newVersion();
        const load = loadThrough(balancerUrl);
        const started = await client.post<DeploymentView>("/v1/deployments", {
          app: "hello",
          group: "web",
          version,
        });
        await waitFor(
          `deployment at "${step}"`,
          async () => {
            const d = await client.get<DeploymentView>(`/v1/deployments/${started.id}`);
            if (d.state !== "running") throw new Error(`finished (${d.state}) before "${step}"`);
            return reached(d);
          },
          60_000,
          5,
        );
        await server.kill();
        // The data plane serves on alone for a while.
        await waitFor(
          "requests served with no control plane",
          async () => load.result.ok > 20,
          30_000,
          20,
        );
        client = await server.start();
        const done = await waitForDeployment(client, started.id);
        assert.equal(done.state, "succeeded", done.error ?? "");
        await assertSettled(client, version);
        const { ok, failed } = await load.stop();
        assert.deepEqual(failed, [], `${failed.length} of ${ok + failed.length} requests failed`);
      });
    }

    for (const [step, files] of AGENT_STEPS) {
      test(`an agent killed in ${step}: the deploy converges, no request fails`, async () => {
        const version = `2.${release++}.0`;
        const gates = await mkdtemp(join(dir, "gate-"));
        await writeFile(join(gates, "gate"), "");
        const definition = (await readFile(join(EXAMPLE_APP, "strata.yaml"), "utf8"))
          .replace("env: { GREETING: hello }", `env: { GREETING: hello, GATE_DIR: "${gates}" }`)
          .replace(
            "start: node server.js",
            files["start.sh"] ? "start: sh start.sh" : "start: node server.js",
          );
        const app = await variantOf(dir, {
          ...files,
          "strata.yaml": definition,
          "message.txt": version,
        });
        await build(client, app, version);
        const load = loadThrough(balancerUrl);
        const started = await client.post<DeploymentView>("/v1/deployments", {
          app: "hello",
          group: "web",
          version,
        });
        const victim = await waitFor(`an agent held in ${step}`, async () => {
          await readFile(join(gates, "reached"));
          const d = await client.get<DeploymentView>(`/v1/deployments/${started.id}`);
          return d.servers.find((s) =>
            s.steps.some((x) => x.name === step && x.state === "running"),
          )?.name;
        });
        const pid = agentPid(join(server.dataDir, "servers", victim));
        assert.ok(pid, `the agent of ${victim} runs`);
        process.kill(pid, "SIGKILL");
        await rm(join(gates, "gate"));
        const done = await waitForDeployment(client, started.id);
        assert.equal(done.state, "succeeded", done.error ?? "");
        await assertSettled(client, version);
        const { ok, failed } = await load.stop();
        assert.deepEqual(failed, [], `${failed.length} of ${ok + failed.length} requests failed`);
      });
    }
  },
);
