import type { Command } from "commander";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { StrataError } from "../../lib/errors.js";
import { agentSubcommand } from "./agent.js";
import { printJson, type OutputOptions } from "../output.js";

/** The `strata` entry point of this installation, for ExecStart. */
const STRATA_BIN = fileURLToPath(new URL("../../../bin/strata.js", import.meta.url));

export interface AgentUnitOptions {
  server: string;
  group: string;
  root: string;
  address: string;
  name?: string;
  /** File with STRATA_JOIN_TOKEN (0600), read by systemd, so the token is not in the unit. */
  envFile: string;
  /** Runs the agent as this user. @default root (the agent manages its root folder) */
  user?: string;
  /** @default process.execPath */
  node?: string;
  /** @default this installation's bin/strata.js */
  strata?: string;
}

/**
 * A systemd unit that runs `strata agent` at boot and restarts it when it
 * exits: the desired state, not the agent's uptime, decides what runs, so a
 * restarted agent simply reconciles again.
 */
export function agentUnit(o: AgentUnitOptions): string {
  const argv = [
    o.node ?? process.execPath,
    o.strata ?? STRATA_BIN,
    "agent",
    ...["--server", o.server, "--group", o.group, "--root", resolve(o.root)],
    ...["--address", o.address],
    ...(o.name ? ["--name", o.name] : []),
  ];
  return `# Written by \`strata agent install\`. Enable with: systemctl daemon-reload && systemctl enable --now strata-agent
[Unit]
Description=strata agent (group ${o.group}${o.name ? `, server ${o.name}` : ""})
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${argv.map(systemdQuote).join(" ")}
EnvironmentFile=-${o.envFile}
${o.user ? `User=${o.user}\n` : ""}Restart=always
RestartSec=2
# SIGTERM to the agent first: it stops the app's process group within the app's stop_timeout.
KillMode=mixed
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
`;
}

/** A word of ExecStart: quoted when it holds anything but plain characters (systemd.syntax(7)). */
export function systemdQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "$$$$").replace(/%/g, "%%")}"`;
}

interface InstallFlags extends OutputOptions {
  group: string;
  root: string;
  address: string;
  name?: string;
  joinToken?: string;
  unitDir: string;
  envFile: string;
  user?: string;
  dryRun?: boolean;
}

/** `strata agent install --group G --root DIR ...`: registered under `strata agent`, with the agent's own options. */
export function registerAgentInstallCommand(program: Command): void {
  agentSubcommand(program, "install")
    .description(
      "write a systemd unit that starts this agent at boot (strata agent install --group G --root DIR ...)",
    )
    .requiredOption("--group <group>", "server group")
    .requiredOption("--root <dir>", "server root folder")
    .option("--address <ip>", "address the app listens on", "127.0.0.1")
    .option("--name <name>", "server name (default: the root folder's name)")
    .option("--join-token <token>", "join token (env STRATA_JOIN_TOKEN), kept in --env-file")
    .option("--unit-dir <dir>", "where the unit goes", "/etc/systemd/system")
    .option(
      "--env-file <file>",
      "file for STRATA_JOIN_TOKEN, read by systemd (0600)",
      "/etc/strata/agent.env",
    )
    .option("--user <user>", "run the agent as this user (default: root)")
    .option("--dry-run", "print the unit instead of writing it")
    .option("--json", "print one JSON document")
    .action(async (flags: InstallFlags) => {
      const a = flags;
      const server = program.opts<{ server?: string }>().server ?? process.env.STRATA_SERVER;
      if (!server)
        throw new StrataError(
          "bad_request",
          "[agent] install: --server (or STRATA_SERVER) is required",
        );
      const unit = agentUnit({
        server,
        group: a.group,
        root: a.root,
        address: a.address,
        ...(a.name ? { name: a.name } : {}),
        envFile: resolve(flags.envFile),
        ...(flags.user ? { user: flags.user } : {}),
      });
      const unitPath = join(resolve(flags.unitDir), "strata-agent.service");
      const joinToken = a.joinToken ?? process.env.STRATA_JOIN_TOKEN;
      if (!flags.dryRun) {
        await mkdir(dirname(unitPath), { recursive: true });
        await writeFile(unitPath, unit);
        if (joinToken) {
          await mkdir(dirname(resolve(flags.envFile)), { recursive: true, mode: 0o700 });
          await writeFile(resolve(flags.envFile), `STRATA_JOIN_TOKEN=${joinToken}\n`, {
            mode: 0o600,
          });
          await chmod(resolve(flags.envFile), 0o600);
        }
      }
      if (flags.json)
        return printJson({
          unit_path: unitPath,
          env_file: resolve(flags.envFile),
          written: !flags.dryRun,
          unit,
        });
      if (flags.dryRun) return void process.stdout.write(unit);
      console.log(
        `wrote ${unitPath}${joinToken ? ` and ${resolve(flags.envFile)} (join token, 0600)` : ""}`,
      );
      console.log(
        "start it at boot: systemctl daemon-reload && systemctl enable --now strata-agent",
      );
    });
}
