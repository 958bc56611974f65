import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, realpathSync } from "node:fs";
import { chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DAEMON_FILE } from "../../src/balancer/local/daemon.js";
import { ApiClient } from "../../src/cli/client.js";
import { buildRelease } from "../../src/cli/commands/build.js";
import { parseServerConfig } from "../../src/config/server-config.js";
import { groupAlive, killGroup } from "../../src/lib/process.js";
import { startControlPlane, type ControlPlane } from "../../src/server/control-plane.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { Release } from "../../src/wire/release.js";
import { MAX_TRAFFIC_MINUTES_PER_POST, type TrafficMinute } from "../../src/wire/traffic.js";
import type { ServerView, StatusView } from "../../src/wire/server.js";

export const EXAMPLE_APP = fileURLToPath(new URL("../../examples/hello", import.meta.url));

export interface TestPlane {
  plane: ControlPlane;
  client: ApiClient;
  dir: string;
  /** Restarts the control plane on the same data folder and address. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A random 127.a.b prefix, so parallel test files never share addresses. */
export function randomLoopbackPrefix(): string {
  const octet = () => 10 + Math.floor(Math.random() * 240);
  return `127.${octet()}.${octet()}`;
}

export interface TestPlaneOptions {
  /** `127.a.b` of the API and the balancer (on `.1`). @default random */
  apiPrefix?: string;
  /** `127.a.b` of the servers. @default random */
  serverPrefix?: string;
  /** Passed to the control plane (the dashboard's built files). */
  webDir?: string;
  /** Extra environment of the agents the local provider starts. */
  agentEnv?: Record<string, string>;
  /** Extra top-level lines of strata.yaml; one whose key the defaults set replaces theirs. */
  yaml?: string[];
  /** The `provider:` line of strata.yaml. @default the local provider on `serverPrefix` */
  provider?: string;
}

/** Starts a real control plane in-process, with fast heartbeats; its agents are real processes. */
export async function startTestPlane(options: TestPlaneOptions = {}): Promise<TestPlane> {
  const agentEnv = options.agentEnv ?? {};
  const dir = await mkdtemp(join(tmpdir(), "strata-e2e-"));
  await chmod(dir, 0o711); // as root, apps run as an unprivileged account that must reach its root
  const api = options.apiPrefix ?? randomLoopbackPrefix();
  const webDir = options.webDir ? { webDir: options.webDir } : {};
  const keyOf = (line: string) => /^(\w+):/.exec(line)?.[1];
  const overridden = new Set((options.yaml ?? []).map(keyOf));
  const yaml = [
    options.provider ??
      `provider: { local: { address_prefix: "${options.serverPrefix ?? randomLoopbackPrefix()}" } }`,
    `balancer: { host: "${api}.1" }`,
    "heartbeat_interval: 300ms",
    "heartbeat_timeout: 3s",
    "deploy: { server_timeout: 60s, drain_timeout: 5s }",
  ]
    .filter((line) => !overridden.has(keyOf(line)))
    .concat(options.yaml ?? [])
    .join("\n");
  let config = parseServerConfig(yaml, "test", {
    dataDir: join(dir, "data"),
    listen: `${api}.1:0`,
  });
  const harness: TestPlane = {
    plane: await startControlPlane({ config, agentEnv, ...webDir }),
    client: null as unknown as ApiClient,
    dir,
    async restart() {
      const port = new URL(harness.plane.url).port;
      await harness.plane.close({ keepDataPlane: true });
      config = parseServerConfig(yaml, "test", {
        dataDir: join(dir, "data"),
        listen: `${api}.1:${port}`,
      });
      harness.plane = await startControlPlane({ config, agentEnv, ...webDir });
      harness.client = new ApiClient(harness.plane.url, harness.plane.adminToken, {
        ...(harness.plane.ca ? { ca: harness.plane.ca } : {}),
      });
    },
    async close() {
      await harness.plane.close();
      await killLeftApps(join(dir, "data", "servers"));
      await rm(dir, { recursive: true, force: true });
    },
  };
  harness.client = new ApiClient(harness.plane.url, harness.plane.adminToken, {
    ...(harness.plane.ca ? { ca: harness.plane.ca } : {}),
  });
  return harness;
}

/** Polls `probe` every `intervalMs` until it returns something truthy; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export function status(client: ApiClient): Promise<StatusView> {
  return client.get<StatusView>("/v1/status");
}

/**
 * Launches servers until the group has `count` (`POST /v1/fleet/up`) and waits until each
 * has joined and heartbeats: a deployment only counts servers whose agent has joined.
 */
export async function launchJoined(
  client: ApiClient,
  group: string,
  count: number,
): Promise<ServerView[]> {
  await client.post("/v1/fleet/up", { group, count });
  return waitFor(`${count} servers of ${group} to join`, async () => {
    const joined = (await status(client)).servers.filter(
      (s) => s.group === group && s.state !== "launching" && s.last_heartbeat,
    );
    return joined.length >= count && joined;
  });
}

/** Waits until `count` servers of the group are ready and in service. */
export function waitForServing(
  client: ApiClient,
  group: string,
  count: number,
  version?: string,
): Promise<StatusView> {
  return waitFor(
    `${count} servers of ${group} in service${version ? ` on ${version}` : ""}`,
    async () => {
      const s = await status(client);
      const serving = s.servers.filter(
        (x) => x.group === group && x.in_service && (!version || x.version === version),
      );
      return serving.length >= count ? s : null;
    },
  );
}

/** Copies the example app with changed files, for a release that differs by content. */
export async function variantOf(dir: string, changes: Record<string, string>): Promise<string> {
  const copy = await mkdtemp(join(dir, "app-"));
  await cp(EXAMPLE_APP, copy, { recursive: true });
  for (const [path, text] of Object.entries(changes)) await writeFile(join(copy, path), text);
  return copy;
}

export function build(client: ApiClient, dir: string, version: string): Promise<Release> {
  return buildRelease(client, dir, "hello", version);
}

/** Starts a deployment and waits for its end. */
export async function deployAndWait(
  client: ApiClient,
  request: {
    version: string;
    group?: string;
    strategy?: string;
    batch?: string;
    max_failures?: number;
  },
): Promise<DeploymentView> {
  const started = await client.post<DeploymentView>("/v1/deployments", {
    app: "hello",
    group: "web",
    ...request,
  });
  return waitForDeployment(client, started.id);
}

export function waitForDeployment(client: ApiClient, id: string): Promise<DeploymentView> {
  return waitFor(
    `deployment ${id}`,
    async () => {
      const d = await client.get<DeploymentView>(`/v1/deployments/${id}`);
      return d.state === "running" ? null : d;
    },
    120_000,
  );
}

/** GET through plain HTTP; returns status and body. */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** Pid of the agent process serving a server root (found by its --root argument). */
export function agentPid(root: string): number | null {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  for (const line of out.split("\n")) {
    const isAgent = line.includes(" agent ") || line.includes("strata-agent.mjs");
    if (isAgent && line.includes(`--root ${root} `)) return Number(line.trim().split(/\s+/)[0]);
  }
  return null;
}

/**
 * A test's last line of defence: an app still running from one of its server roots
 * after the control plane closed is killed and named on stderr. Left running, it held
 * its address for every later run on the machine (found in CI: EADDRINUSE in ops.test.ts).
 */
async function killLeftApps(serversDir: string): Promise<void> {
  const names = await readdir(serversDir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(
      (await readFile(join(serversDir, name, "app.pid"), "utf8").catch(() => "")).trim(),
    );
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      process.kill(-pid, "SIGKILL");
      console.error(
        `[test] ${name}: its app (pid ${pid}) outlived the control plane's close; killed`,
      );
    } catch {
      // gone, as it should be
    }
  }
}

/**
 * Stops the balancer daemon (`strata-balancer.mjs`) of a control plane's data folder, as
 * `strata fleet down` would have: a `strata server` stopped while servers are registered
 * (or killed) leaves it serving on purpose, so a test that runs `strata server` processes
 * stops it itself. Only the process named in `balancer.json` whose arguments name `dataDir`
 * (never a recycled pid). Returns whether one was running.
 */
export async function stopBalancerDaemon(dataDir: string, graceMs = 10_000): Promise<boolean> {
  const text = await readFile(join(dataDir, DAEMON_FILE), "utf8").catch(() => "");
  const pid = text ? (JSON.parse(text) as { pid?: number }).pid : undefined;
  if (!pid || !groupAlive(pid)) return false;
  const args = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  if (!args.includes(dataDir)) return false;
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pid)) {
    if (Date.now() >= deadline) killGroup(pid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/**
 * Processes still running from `dir`: its path in their arguments (a balancer daemon, an
 * agent) or their working directory inside it (an app). A test's teardown expects none.
 */
export function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      const cwd = realpathSync(`/proc/${entry}/cwd`);
      const state = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.[0];
      if (state === "Z") continue;
      if (args.includes(dir) || cwd === dir || cwd.startsWith(dir + "/"))
        found.push(`${entry} ${args}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * Posts one minute of all-2xx traffic for every whole minute of [from, to) (Unix ms) to the
 * app's traffic route, `totalAt(minute)` requests each, in as few posts as the route takes.
 */
export async function postTraffic(
  client: ApiClient,
  app: string,
  from: number,
  to: number,
  totalAt: (minute: number) => number,
): Promise<void> {
  const minutes: TrafficMinute[] = [];
  for (let t = Math.ceil(from / 60_000) * 60_000; t < to; t += 60_000) {
    const total = totalAt(t);
    minutes.push({
      minute: new Date(t).toISOString(),
      total,
      s2xx: total,
      s3xx: 0,
      s4xx: 0,
      s5xx: 0,
    });
  }
  for (let i = 0; i < minutes.length; i += MAX_TRAFFIC_MINUTES_PER_POST)
    await client.post(`/v1/apps/${app}/traffic`, {
      minutes: minutes.slice(i, i + MAX_TRAFFIC_MINUTES_PER_POST),
    });
}
