import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../../src/cli/client.js";
import { parseServerConfig } from "../../src/config/server-config.js";
import { startControlPlane, type ControlPlane } from "../../src/server/control-plane.js";
import { randomLoopbackPrefix } from "../../test/e2e/harness.js";

export interface BenchPlaneOptions {
  /** Extra top-level lines of the control plane's strata.yaml (no provider, balancer or listen). */
  yaml?: string[];
  /** Prefix of the temp folder holding the data dir. @default "strata-bench-" */
  tempPrefix?: string;
  /** Folder the temp folder is made in. @default os.tmpdir() */
  parent?: string;
  /** Passed to the control plane. @default true */
  stageFirst?: boolean;
  /** `127.a.b` of the API and the balancer (on `.1`). @default random */
  apiPrefix?: string;
  /** `127.a.b` of the servers. @default random */
  serverPrefix?: string;
}

export interface BenchPlane {
  plane: ControlPlane;
  client: ApiClient;
  /** Temp folder: `data/` is the control plane's; benches may put their own files beside it. */
  dir: string;
  /** Closes the control plane (stopping its agents) and removes the temp folder. Idempotent. */
  close(): Promise<void>;
}

/** Starts a real control plane in this process on loopback addresses; its agents are real processes. */
export async function startBenchPlane(options: BenchPlaneOptions = {}): Promise<BenchPlane> {
  const dir = await mkdtemp(
    join(options.parent ?? tmpdir(), options.tempPrefix ?? "strata-bench-"),
  );
  await chmod(dir, 0o711); // as root, apps run as an unprivileged account that must reach its root
  const api = options.apiPrefix ?? randomLoopbackPrefix();
  const yaml = [
    `provider: { local: { address_prefix: "${options.serverPrefix ?? randomLoopbackPrefix()}" } }`,
    `balancer: { host: "${api}.1" }`,
    ...(options.yaml ?? []),
  ].join("\n");
  const config = parseServerConfig(yaml, "bench", {
    dataDir: join(dir, "data"),
    listen: `${api}.1:0`,
  });
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({
      config,
      ...(options.stageFirst === false ? { stageFirst: false } : {}),
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    plane,
    client: new ApiClient(plane.url, plane.adminToken),
    dir,
    close: () =>
      (closing ??= (async () => {
        try {
          await plane.close();
        } finally {
          // Work interrupted by a signal may still be writing here: retry.
          await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
        }
      })()),
  };
}

/** Runs `work` with a plane and always closes it, also on SIGINT/SIGTERM. */
export async function withBenchPlane<T>(
  options: BenchPlaneOptions,
  work: (bench: BenchPlane) => Promise<T>,
): Promise<T> {
  const bench = await startBenchPlane(options);
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`bench: ${signal}, closing the control plane\n`);
    void bench.close().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await work(bench);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await bench.close();
  }
}

// One implementation for tests and benches.
export { randomLoopbackPrefix, waitFor } from "../../test/e2e/harness.js";
