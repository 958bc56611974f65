import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type {
  DeployRequest,
  DeploymentEvent,
  DeploymentView,
  Strategy,
} from "../../wire/deployment.js";
import type { ApiClient } from "../client.js";
import { createClient } from "../client.js";
import { createDeployProgress, summary } from "../deploy-view.js";
import { printJson, table, type OutputOptions } from "../output.js";

interface WaveOptions extends OutputOptions {
  group: string;
  strategy?: Strategy;
  batch?: string;
  maxFailures?: string;
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
      .description("deploy APP@VERSION to a group in waves")
      .argument("<app@version>"),
  ).action(async (target: string, opts: WaveOptions) => {
    const at = target.lastIndexOf("@");
    if (at <= 0 || at === target.length - 1) {
      throw new StrataError("bad_request", `[cli] deploy: expected APP@VERSION, got "${target}"`);
    }
    const client = await createClient(program.opts());
    const started = await client.post<DeploymentView>("/v1/deployments", {
      app: target.slice(0, at),
      version: target.slice(at + 1),
      ...waveRequest(opts),
    } satisfies DeployRequest);
    await follow(client, started, opts);
  });

  waves(
    program
      .command("rollback")
      .description("deploy the previous (or --to) release of APP again")
      .argument("<app>"),
  )
    .option("--to <version>", "version to return to")
    .action(async (app: string, opts: WaveOptions & { to?: string }) => {
      const client = await createClient(program.opts());
      const started = await client.post<DeploymentView>("/v1/rollbacks", {
        app,
        ...waveRequest(opts),
        ...(opts.to ? { to: opts.to } : {}),
      });
      await follow(client, started, opts);
    });
}

export function registerDeploymentsCommand(program: Command): void {
  const deployments = program
    .command("deployments")
    .description("list recent deployments")
    .option("--app <app>", "only this app")
    .option("--group <group>", "only this group")
    .option("--limit <n>", "how many", "20")
    .option("--json", "print one JSON document")
    .action(async (opts: { app?: string; group?: string; limit: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const query = new URLSearchParams({ limit: opts.limit });
      if (opts.app) query.set("app", opts.app);
      if (opts.group) query.set("group", opts.group);
      const { deployments: list } = await client.get<{ deployments: DeploymentView[] }>(
        `/v1/deployments?${query}`,
      );
      if (opts.json) return printJson({ deployments: list });
      console.log(
        table(
          ["ID", "KIND", "APP", "VERSION", "GROUP", "STRATEGY", "STATE", "CREATED"],
          list.map((d) => [
            d.id,
            d.kind,
            d.app,
            d.version,
            d.group,
            d.strategy,
            d.state,
            d.created_at,
          ]),
        ),
      );
    });
  deployments
    .command("show")
    .description("one deployment with its servers and steps; follows it while it runs")
    .argument("<id>")
    .option("--json", "print one JSON document")
    .action(async (id: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const final = await watchDeployment(client, id, { quiet: Boolean(opts.json) });
      if (opts.json) return printJson(final);
      for (const server of final.servers) {
        const steps = server.steps
          .map((s) => `${s.name} ${s.state}${s.duration_ms !== null ? ` ${s.duration_ms}ms` : ""}`)
          .join(", ");
        console.log(
          `${server.name} (wave ${server.wave}) ${server.state}${server.error ? `: ${server.error}` : ""}`,
        );
        if (steps) console.log(`  ${steps}`);
      }
      if (final.state !== "succeeded") process.exitCode = 1;
    });
}

function waveRequest(opts: WaveOptions): Omit<DeployRequest, "app" | "version"> {
  const maxFailures = Number(opts.maxFailures ?? "0");
  if (!Number.isInteger(maxFailures) || maxFailures < 0) {
    throw new StrataError(
      "bad_request",
      `[cli] --max-failures: expected a whole number, got "${opts.maxFailures}"`,
    );
  }
  return {
    group: opts.group,
    strategy: opts.strategy ?? "rolling",
    batch: opts.batch ?? "1",
    max_failures: maxFailures,
  };
}

/** Streams progress until the deployment ends; exit code 1 unless it succeeded. */
async function follow(
  client: ApiClient,
  started: DeploymentView,
  opts: WaveOptions,
): Promise<void> {
  if (opts.detach) {
    if (opts.json) printJson(started);
    else console.log(`deployment ${started.id} started`);
    return;
  }
  const view = createDeployProgress();
  let final: DeploymentView | null = null;
  for await (const event of events(client, started.id)) {
    if (!opts.json) view.event(event);
    if (event.type === "done") final = event.deployment;
  }
  view.close();
  final ??= await client.get<DeploymentView>(`/v1/deployments/${started.id}`);
  if (opts.json) printJson(final);
  else if (!process.stderr.isTTY) console.log(summary(final));
  if (final.state !== "succeeded") process.exitCode = 1;
}

/** Shows a deployment's progress on stderr until it ends; returns its final state. */
export async function watchDeployment(
  client: ApiClient,
  id: string,
  options: { quiet?: boolean } = {},
): Promise<DeploymentView> {
  const view = createDeployProgress();
  let final: DeploymentView | null = null;
  for await (const event of events(client, id)) {
    if (!options.quiet) view.event(event);
    if (event.type === "done") final = event.deployment;
  }
  view.close();
  return final ?? (await client.get<DeploymentView>(`/v1/deployments/${id}`));
}

async function* events(client: ApiClient, id: string): AsyncGenerator<DeploymentEvent> {
  const res = await client.raw("GET", `/v1/deployments/${id}/events`);
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) yield JSON.parse(line) as DeploymentEvent;
    }
  }
}
