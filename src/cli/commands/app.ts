import type { Command } from "commander";
import { APP_ACTIONS, type AppAction, type DeploymentView } from "../../wire/deployment.js";
import { createClient } from "../client.js";
import { reportDeployment } from "../deployments.js";
import { wholeNumber } from "../flags.js";
import { confirm, type OutputOptions } from "../output.js";
import { registerRemoveCommands } from "./remove.js";

interface AppActionOptions extends OutputOptions {
  group: string;
  strategy: string;
  batch: string;
  maxFailures: string;
  detach?: boolean;
  yes?: boolean;
}

const WHAT: Record<AppAction, string> = {
  restart: "restart the app on a group's servers in waves, each out of the balancer meanwhile",
  stop: "stop the app on a group's servers in waves (it stays stopped, also across agent restarts, until `strata app start`)",
  start: "start a stopped app on a group's servers in waves",
};

/** `strata app restart|stop|start`: the app's process on the release a group runs, without a deploy. */
export function registerAppCommands(program: Command): void {
  const app = program
    .command("app")
    .description(
      "the app on a group's servers without a new release: restart, stop, start; remove an app",
    );
  registerRemoveCommands(program, app);
  for (const action of APP_ACTIONS) {
    const cmd = app
      .command(action)
      .description(`${WHAT[action]} (a deployment of kind ${action}; exit 1 unless it succeeds)`)
      .requiredOption("--group <group>", "server group")
      .option("--strategy <name>", "rolling | canary | all-at-once", "rolling")
      .option("--batch <n|n%>", "servers per wave", "1")
      .option("--max-failures <n>", "servers that may fail before it stops", "0")
      .option("--detach", "start it and return without waiting")
      .option("--json", "print the final deployment as one JSON document");
    if (action === "stop") cmd.option("--yes", "stop without asking");
    cmd.action(async (opts: AppActionOptions) => {
      const question = `Stop the app on every server of ${opts.group}? It serves nothing until \`strata app start\`.`;
      if (action === "stop" && !(await confirm(question, opts))) return;
      const body = {
        strategy: opts.strategy,
        batch: opts.batch,
        max_failures: wholeNumber("--max-failures", opts.maxFailures),
      };
      const client = await createClient(program.opts());
      const path = `/v1/groups/${encodeURIComponent(opts.group)}/app/${action}`;
      await reportDeployment(client, () => client.post<DeploymentView>(path, body), opts);
    });
  }
}
