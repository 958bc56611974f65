import type { Command } from "commander";
import { loadServerConfig } from "../../config/server-config.js";
import { createLog, routeConsole } from "../../lib/log.js";

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
  // JSON lines under systemd or in a file, text on a terminal.
  const log = createLog({ component: "server" });
  routeConsole(log);
  // Listening for the signals before anything starts: one that comes early still stops cleanly.
  const signal = new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
  const { startControlPlane } = await import("../../server/control-plane.js");
  const plane = await startControlPlane({ config });
  log.info(`strata control plane listening on ${plane.url} (data in ${plane.dataDir})`, {
    url: plane.url,
  });
  log.info(
    `admin token in ${plane.dataDir}/admin-token, join token in ${plane.dataDir}/join-token`,
  );
  log.info(`dashboard at ${plane.url}/ (sign in with the admin token)`);
  const received = await signal;
  // The data plane outlives the control plane: a restart of `strata server` is no outage.
  const live = (await plane.store.servers.list()).length;
  if (live > 0) {
    log.info(
      `${received}: stopping the control plane; ${live} server(s) and the load balancer keep serving`,
    );
    await plane.close({ keepDataPlane: true });
    log.info(
      "stopped (start `strata server` again to manage them; `strata fleet down` stops them)",
    );
  } else {
    log.info(`${received}: stopping the control plane and the load balancer...`);
    await plane.close();
    log.info("stopped");
  }
}
