import type { Command } from "commander";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAppDefinition } from "../../config/app-definition.js";
import { parseServerConfig } from "../../config/server-config.js";
import { StrataError } from "../../lib/errors.js";
import { wholeNumber } from "../flags.js";
import { printJson, type OutputOptions } from "../output.js";

interface ServerFlags extends OutputOptions {
  dir: string;
  listen: string;
  addressPrefix: string;
  balancerHost: string;
  force?: boolean;
}

interface AppFlags extends OutputOptions {
  dir: string;
  start: string;
  port: string;
  healthPath: string;
  force?: boolean;
}

/** `strata init server|app`: a commented strata.yaml to start from, checked by the real parser. */
export function registerInitCommands(program: Command): void {
  const init = program
    .command("init")
    .description("write a commented strata.yaml for the control plane or for an app");
  init
    .command("server")
    .description("the control plane's strata.yaml (read by `strata server` in that folder)")
    .option("--dir <dir>", "folder to write it in", ".")
    .option("--listen <host:port>", "API address", "127.0.0.1:7700")
    .option("--address-prefix <a.b.c>", "local provider: servers get a.b.c.2 upwards", "127.0.0")
    .option("--balancer-host <ip>", "address of each group's load balancer listener", "127.0.0.1")
    .option("--force", "overwrite an existing strata.yaml")
    .option("--json", "print one JSON document")
    .action(async (opts: ServerFlags) => {
      const text = serverTemplate(opts);
      parseServerConfig(text, "strata init server");
      await write(join(opts.dir, "strata.yaml"), text, "server", opts);
    });
  init
    .command("app")
    .description("an app's strata.yaml (packed into every release by `strata build`)")
    .option("--dir <dir>", "the app's folder", ".")
    .option("--start <command>", "how to start the app, in the release folder", "node server.js")
    .option("--port <n>", "port the app listens on (it gets it as PORT)", "8080")
    .option("--health-path <path>", "path that answers 200 when the app is healthy", "/healthz")
    .option("--force", "overwrite an existing strata.yaml")
    .option("--json", "print one JSON document")
    .action(async (opts: AppFlags) => {
      const text = appTemplate({ ...opts, port: wholeNumber("--port", opts.port) });
      parseAppDefinition(text, "strata init app");
      await write(join(opts.dir, "strata.yaml"), text, "app", opts);
    });
}

async function write(
  path: string,
  text: string,
  kind: "server" | "app",
  opts: { force?: boolean } & OutputOptions,
): Promise<void> {
  try {
    await writeFile(path, text, { flag: opts.force ? "w" : "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST")
      throw new StrataError(
        "bad_request",
        `[cli] init: ${path} exists already (--force replaces it)`,
      );
    throw new StrataError(
      "bad_request",
      `[cli] init: cannot write ${path}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (opts.json) printJson({ kind, path, yaml: text });
  else
    console.log(
      `wrote ${path} (${kind}); every key is optional${kind === "app" ? " but start" : ""}`,
    );
}

const yamlString = (value: string) => JSON.stringify(value);

export function serverTemplate(o: {
  listen: string;
  addressPrefix: string;
  balancerHost: string;
}): string {
  return `# The control plane's configuration, read by \`strata server\` (or --config, STRATA_CONFIG).
# Every key is optional; an invalid file is refused whole, naming the key.
# Precedence: flags > environment > this file > defaults. Durations: 500ms, 90s, 10m, 6h, 28d.

# Where state, artifacts, images and local servers live (STRATA_DATA_DIR, --data-dir).
data_dir: .strata

# The HTTP API (STRATA_LISTEN, --listen).
listen: ${yamlString(o.listen)}

# The local provider runs each server as processes on its own loopback address.
provider:
  local:
    address_prefix: ${yamlString(o.addressPrefix)} # servers get .2 upwards

# One load balancer listener per group, on this address.
balancer:
  host: ${yamlString(o.balancerHost)}

heartbeat_interval: 5s # how often agents report
heartbeat_timeout: 15s # no heartbeat this long: offline, out of the balancer

deploy:
  server_timeout: 10m # longest wait for one server's agent during a deploy
  drain_timeout: 10s # longest drain of in-flight requests when a server leaves the balancer

# Golden images: a provisioning recipe per group (docs/images.md).
# groups:
#   web: { recipe: ./recipes/web, provision_timeout: 10m }
# images: { keep: 5 }

# Daily forecasts of every app's traffic (docs/forecast.md).
# forecast: { zone: Europe/Berlin, at: "00:10" }
`;
}

export function appTemplate(o: { start: string; port: number; healthPath: string }): string {
  return `# The app definition (docs/app-definition.md). \`strata build\` checks it and packs it into
# every release, so a rollback also returns to the definition that release was tested with.

# How to start the app, in the release folder (a string runs through /bin/sh -c).
start: ${yamlString(o.start)}

# The port the app listens on; the agent passes it as PORT (and the address as HOST).
port: ${o.port}

# The agent GETs this path after every restart; the deploy waits for the status.
health:
  path: ${yamlString(o.healthPath)}
  status: 200
  timeout: 2s # per try
  retries: 30 # tries after the first one
  interval: 200ms

# Commands run by /bin/sh -c in the release folder, each with a timeout (default 60s).
# hooks:
#   before_switch: ./hooks/check.sh
#   after_switch: { command: ./hooks/migrate.sh, timeout: 5m }
#   on_success: echo "live"
#   on_failure: echo "rolled back"

keep_releases: 5 # releases kept on disk (the current and the previous always are)
stop_timeout: 10s # after SIGTERM, then SIGKILL to the app's process group

# Extra environment (strings; HOST, PORT and STRATA_* are reserved).
# env: { NODE_ENV: production }
`;
}
