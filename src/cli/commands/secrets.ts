import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { StrataError } from "../../lib/errors.js";
import type { SecretsView, SecretView } from "../../wire/secrets.js";
import { createClient } from "../client.js";
import { confirm, printJson, table, type OutputOptions } from "../output.js";

/**
 * `strata secrets set|rm|list --app A`: an app's secrets, sealed in the control plane and
 * put in the app's environment at each start. A value never travels as a flag (shell
 * history, `ps`): it comes from stdin or --value-file.
 */
export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command("secrets")
    .description(
      "an app's secrets: encrypted in the control plane, in the app's environment at start (`strata app restart` applies a change)",
    );
  const path = (app: string, key?: string) =>
    `/v1/apps/${encodeURIComponent(app)}/secrets${key ? `/${encodeURIComponent(key)}` : ""}`;

  secrets
    .command("set")
    .description("set KEY from stdin or --value-file (one trailing newline is dropped)")
    .argument("<key>", "the environment variable, e.g. DATABASE_PASSWORD")
    .requiredOption("--app <app>", "the app")
    .option("--value-file <path>", "read the value from this file instead of stdin")
    .option("--json", "print the secret (never its value) as one JSON document")
    .action(async (key: string, opts: { app: string; valueFile?: string } & OutputOptions) => {
      const value = await readValue(opts.valueFile, key);
      const client = await createClient(program.opts());
      const view = await client.request<SecretView>("PUT", path(opts.app, key), { value });
      if (opts.json) printJson(view);
      else
        console.log(
          `set ${view.key} of ${view.app}; \`strata app restart\` gives it to running apps`,
        );
    });

  secrets
    .command("rm")
    .description("remove KEY (asks on a terminal)")
    .argument("<key>")
    .requiredOption("--app <app>", "the app")
    .option("--yes", "remove without asking")
    .option("--json", "print one JSON document")
    .action(async (key: string, opts: { app: string; yes?: boolean } & OutputOptions) => {
      if (!(await confirm(`Remove the secret ${key} of ${opts.app}?`, opts))) return;
      const client = await createClient(program.opts());
      await client.request("DELETE", path(opts.app, key));
      if (opts.json) printJson({ app: opts.app, key, removed: true });
      else console.log(`removed ${key} of ${opts.app}`);
    });

  secrets
    .command("list")
    .description("the app's secret names and when each was set (never values)")
    .requiredOption("--app <app>", "the app")
    .option("--json", "print one JSON document")
    .action(async (opts: { app: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<SecretsView>(path(opts.app));
      if (opts.json) return printJson(view);
      if (view.secrets.length === 0) return console.log(`${view.app} has no secrets`);
      console.log(
        table(
          ["KEY", "UPDATED"],
          view.secrets.map((s) => [s.key, s.updated_at]),
        ),
      );
    });
}

async function readValue(file: string | undefined, key: string): Promise<string> {
  let text: string;
  if (file) {
    text = await readFile(file, "utf8");
  } else {
    if (process.stdin.isTTY) process.stderr.write(`value of ${key}, then Ctrl-D: `);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString("utf8");
  }
  const value = text.replace(/\r?\n$/, "");
  if (value === "") {
    throw new StrataError("bad_request", `[cli] secrets set: the value of ${key} is empty`);
  }
  return value;
}
