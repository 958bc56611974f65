import type { Command } from "commander";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StrataError } from "../../lib/errors.js";
import { loadServerConfig } from "../../config/server-config.js";
import type { ControlPlane } from "../../server/control-plane.js";
import type { DeploymentView } from "../../wire/deployment.js";
import type { StatusView } from "../../wire/server.js";
import { ApiClient } from "../client.js";
import { progress } from "../output.js";
import { buildRelease } from "./build.js";
import { summary } from "../deploy-view.js";
import { followDeployment } from "../deployments.js";
import { statusTable } from "./fleet.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/hello", import.meta.url));

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run the whole story locally: control plane, 5 servers, deploy hello v1 then v2 (rolling)",
    )
    .option("--count <n>", "servers", "5")
    .option("--listen <host:port>", "API address", "127.0.0.1:7700")
    .option(
      "--replay",
      "instead: replay a real day of NASA traffic through the balancer in compressed time, " +
        "so the forecast, the plan and the fleet follow it",
    )
    .option("--replay-minutes <n>", "real minutes the replayed day takes", "6")
    .action(
      async (opts: { count: string; listen: string; replay?: boolean; replayMinutes: string }) => {
        // The demo's own data folder (wiped at start) unless --data-dir names another.
        const dataDir = program.opts<{ dataDir?: string }>().dataDir ?? ".strata-demo";
        if (opts.replay) {
          const minutes = Number(opts.replayMinutes);
          if (!(minutes >= 1 && minutes <= 1440))
            throw new StrataError("bad_request", "[demo] --replay-minutes: expected 1 to 1440");
          const stop = new AbortController();
          process.once("SIGINT", () => stop.abort());
          process.once("SIGTERM", () => stop.abort());
          const { runReplay } = await import("./demo-replay.js");
          await runReplay({
            dataDir: resolve(dataDir),
            listen: opts.listen,
            minutes,
            signal: stop.signal,
            steps: {
              waitForAgents,
              closeQuietly,
              buildAndDeploy: async (client, signal) => {
                await buildRelease(client, EXAMPLE, "hello", "1.0.0", progress);
                await deploy(client, "1.0.0", "1", signal);
              },
            },
          });
          return;
        }
        await runDemo(resolve(dataDir), Number(opts.count), opts.listen);
      },
    );
}

async function runDemo(dataDir: string, count: number, listen: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  const config = await loadServerConfig({ flags: { dataDir, listen }, env: {} });
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  const { startControlPlane } = await import("../../server/control-plane.js");
  const plane = await startControlPlane({ config });
  const work = await mkdtemp(join(tmpdir(), "strata-demo-"));
  try {
    const client = new ApiClient(plane.url, plane.adminToken);
    progress(`control plane on ${plane.url} (data in ${dataDir})`);
    progress(`launching ${count} local servers in group web...`);
    await client.post("/v1/fleet/up", { group: "web", count });
    await waitForAgents(client, count, stop.signal);

    await buildRelease(client, EXAMPLE, "hello", "1.0.0", progress);
    await deploy(client, "1.0.0", "2", stop.signal);

    const v2 = join(work, "hello");
    await cp(EXAMPLE, v2, { recursive: true });
    await writeFile(join(v2, "message.txt"), "Hello from strata, version 2!\n");
    await buildRelease(client, v2, "hello", "2.0.0", progress);
    await deploy(client, "2.0.0", "1", stop.signal);

    const status = await client.get<StatusView>("/v1/status");
    console.log(statusTable(status));
    const lb = status.groups.find((g) => g.name === "web")?.balancer;
    console.log(`\napp through the load balancer: http://${lb}/`);
    console.log(`API: ${plane.url}  (admin token in ${dataDir}/admin-token)`);
    console.log(`dashboard: ${plane.url}/  (sign in with that admin token)`);
    console.log(`try: STRATA_DATA_DIR=${dataDir} npm run strata -- status`);
    console.log("Ctrl-C stops everything.");
    await new Promise<void>((done) => {
      if (stop.signal.aborted) done();
      stop.signal.addEventListener("abort", () => done(), { once: true });
    });
  } finally {
    progress("stopping servers and the control plane...");
    await closeQuietly(plane);
    await rm(work, { recursive: true, force: true });
  }
}

async function deploy(
  client: ApiClient,
  version: string,
  batch: string,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  const started = await client.post<DeploymentView>("/v1/deployments", {
    app: "hello",
    version,
    group: "web",
    strategy: "rolling",
    batch,
  });
  const done = await followDeployment(client, started.id);
  progress(summary(done));
  if (done.state !== "succeeded") {
    throw new StrataError(
      "internal",
      `[demo] deployment of hello@${version} ${done.state}: ${done.error}`,
    );
  }
}

async function waitForAgents(client: ApiClient, count: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const status = await client.get<StatusView>("/v1/status?group=web");
    const joined = status.servers.filter((s) => s.state !== "launching").length;
    if (joined >= count) return progress(`${joined} agents joined`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function closeQuietly(plane: ControlPlane): Promise<void> {
  try {
    await plane.close();
  } catch (err) {
    progress(`while stopping: ${(err as Error).message}`);
  }
}
