import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseAppDefinition, type AppDefinition } from "../../config/app-definition.js";
import { messageOf } from "../../lib/errors.js";
import type { PreflightCheck, PreflightView } from "../../wire/day-two.js";
import { createClient } from "../client.js";
import { EXIT } from "../exit-codes.js";
import { printJson, type OutputOptions } from "../output.js";

/** `strata check [APP_DIR] --group G`: a pre-flight before a deploy, like `cap deploy:check`. */
export function registerCheckCommand(program: Command): void {
  program
    .command("check")
    .description(
      "pre-flight of an app folder and a group: strata.yaml valid, group exists, servers heartbeat, health path answers on each (exit 1 if a check fails)",
    )
    .argument("[app-dir]", "the app folder (with its strata.yaml)", ".")
    .requiredOption("--group <group>", "server group to deploy to")
    .option("--json", "print every check as one JSON document")
    .action(async (dir: string, opts: { group: string } & OutputOptions) => {
      const { check, app } = await checkConfig(resolve(dir));
      const query = new URLSearchParams();
      if (app) {
        query.set("path", app.health.path);
        query.set("port", String(app.port));
        query.set("status", String(app.health.status));
      }
      const client = await createClient(program.opts());
      const remote = await client.get<PreflightView>(
        `/v1/groups/${encodeURIComponent(opts.group)}/check?${query}`,
      );
      const checks = [check, ...remote.checks];
      const view: PreflightView = { group: opts.group, ok: checks.every((c) => c.ok), checks };
      if (opts.json) printJson(view);
      else for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"}  ${c.name}: ${c.detail}`);
      if (!view.ok) process.exitCode = EXIT.FAILED;
    });
}

async function checkConfig(dir: string): Promise<{ check: PreflightCheck; app?: AppDefinition }> {
  const path = join(dir, "strata.yaml");
  const name = `${path} valid`;
  try {
    const app = parseAppDefinition(await readFile(path, "utf8"), path);
    const detail = `port ${app.port}, health ${app.health.path} (${app.health.status})`;
    return { check: { name, ok: true, detail }, app };
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    return { check: { name, ok: false, detail: missing ? "missing" : messageOf(err) } };
  }
}
