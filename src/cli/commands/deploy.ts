import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { DeployRequest, Strategy } from "../../wire/deployment.js";
import { createClient } from "../client.js";
import {
  createDeployProgress,
  deploymentsTable,
  deploymentText,
  QUIET,
  summary,
} from "../deploy-view.js";
import {
  cancelDeployment,
  followDeployment,
  listDeployments,
  reportDeployment,
  startDeployment,
  startRollback,
} from "../deployments.js";
import { EXIT } from "../exit-codes.js";
import { printJson, type OutputOptions } from "../output.js";
import { wholeNumber } from "../flags.js";

interface WaveOptions extends OutputOptions {
  group: string;
  strategy: Strategy;
  batch: string;
  maxFailures: string;
  detach?: boolean;
}

export function registerDeployCommands(program: Command): void {
  const waves = (cmd: Command) =>
    cmd
      .requiredOption("--group <group>", "server group")
      .option("--strategy <name>", "rolling | canary | all-at-once", "rolling")
      .option("--batch <n|n%>", "servers per wave", "1")
      .option("--max-failures <n>", "servers that may fail before the deployment stops", "0")
      .option("--detach", "start it and return without waiting")
      .option("--json", "print the final deployment as one JSON document");

  waves(
    program
      .command("deploy")
      .description("deploy APP@VERSION to a group in waves (exit 1 unless it succeeds)")
      .argument("<app@version>"),
  ).action(async (target: string, opts: WaveOptions) => {
    const request = { ...appAtVersion(target), ...waveRequest(opts) };
    const client = await createClient(program.opts());
    await reportDeployment(client, () => startDeployment(client, request), opts);
  });

  waves(
    program
      .command("rollback")
      .description("deploy the previous (or --to) release of APP again")
      .argument("<app>"),
  )
    .option("--to <version>", "version to return to")
    .action(async (app: string, opts: WaveOptions & { to?: string }) => {
      const request = { app, ...waveRequest(opts), ...(opts.to ? { to: opts.to } : {}) };
      const client = await createClient(program.opts());
      await reportDeployment(client, () => startRollback(client, request), opts);
    });
}

export function registerDeploymentsCommand(program: Command): void {
  const deployments = program
    .command("deployments")
    .description("recent deployments; one deployment's servers and steps");
  deployments
    .command("list", { isDefault: true })
    .description("list recent deployments (the default: `strata deployments`)")
    .option("--app <app>", "only this app")
    .option("--group <group>", "only this group")
    .option("--limit <n>", "how many", "20")
    .option("--json", "print one JSON document")
    .action(async (opts: { app?: string; group?: string; limit: string } & OutputOptions) => {
      const limit = wholeNumber("--limit", opts.limit);
      const client = await createClient(program.opts());
      const list = await listDeployments(client, { ...opts, limit });
      if (opts.json) printJson({ deployments: list });
      else console.log(deploymentsTable(list));
    });
  deployments
    .command("show")
    .description(
      "one deployment with its servers and steps; follows it while it runs (exit 1 unless it succeeded)",
    )
    .argument("<id>")
    .option("--json", "print one JSON document")
    .action(async (id: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const final = await followDeployment(client, id, opts.json ? QUIET : createDeployProgress());
      if (opts.json) printJson(final);
      else console.log(deploymentText(final));
      if (final.state !== "succeeded") process.exitCode = EXIT.FAILED;
    });
  registerCancelCommand(deployments, program);
}

function registerCancelCommand(deployments: Command, program: Command): void {
  deployments
    .command("cancel")
    .description(
      "stop a running deployment after its current wave and roll back the servers it switched",
    )
    .argument("<id>")
    .option("--detach", "return once the cancel is recorded, without following the rollback")
    .option(
      "--json",
      "print the final (with --detach: the running) deployment as one JSON document",
    )
    .action(async (id: string, opts: { detach?: boolean } & OutputOptions) => {
      const client = await createClient(program.opts());
      const running = await cancelDeployment(client, id);
      if (opts.detach) {
        if (opts.json) printJson(running);
        else console.log(`deployment ${id}: cancel recorded; it stops after its current wave`);
        return;
      }
      const final = await followDeployment(client, id, opts.json ? QUIET : createDeployProgress());
      if (opts.json) printJson(final);
      else console.log(summary(final));
    });
}

function appAtVersion(target: string): Pick<DeployRequest, "app" | "version"> {
  const at = target.lastIndexOf("@");
  if (at <= 0 || at === target.length - 1) {
    throw new StrataError("bad_request", `[cli] deploy: expected APP@VERSION, got "${target}"`);
  }
  return { app: target.slice(0, at), version: target.slice(at + 1) };
}

function waveRequest(opts: WaveOptions): Omit<DeployRequest, "app" | "version"> {
  return {
    group: opts.group,
    strategy: opts.strategy,
    batch: opts.batch,
    max_failures: wholeNumber("--max-failures", opts.maxFailures),
  };
}
