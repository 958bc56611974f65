import type { Command } from "commander";
import { loadServerConfig } from "../../config/server-config.js";
import { progress } from "../output.js";

export function registerServerCommand(program: Command): void {
  program
    .command("server")
    .description("run the control plane (API, deployments, local fleet, load balancer)")
    .option("--config <file>", "configuration file (env STRATA_CONFIG)", undefined)
    .option("--listen <host:port>", "API address (env STRATA_LISTEN)")
    .action(async (opts: { config?: string; listen?: string }) => {
      const global = program.opts<{ dataDir?: string }>();
      const config = await loadServerConfig({
        ...(opts.config ? { file: opts.config } : {}),
        flags: {
          ...(opts.listen ? { listen: opts.listen } : {}),
          ...(global.dataDir ? { dataDir: global.dataDir } : {}),
        },
      });
      await runServer(config);
    });
}

/** Runs until SIGINT/SIGTERM, then stops everything it started. */
async function runServer(config: Awaited<ReturnType<typeof loadServerConfig>>): Promise<void> {
  const { startControlPlane } = await import("../../server/control-plane.js");
  const plane = await startControlPlane({ config });
  progress(`strata control plane listening on ${plane.url} (data in ${plane.dataDir})`);
  progress(
    `admin token in ${plane.dataDir}/admin-token, join token in ${plane.dataDir}/join-token`,
  );
  progress(`dashboard at ${plane.url}/ (sign in with the admin token)`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      progress(`${signal}: stopping servers and the control plane...`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await plane.close();
  progress("stopped");
}
