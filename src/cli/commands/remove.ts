import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import type { Release } from "../../wire/release.js";
import { createClient } from "../client.js";
import { confirm, printJson, type OutputOptions } from "../output.js";

type RemoveOptions = OutputOptions & { yes?: boolean };

/** `strata group rm`, `strata release rm`, `strata app rm`: each asks on a terminal, `--yes` for scripts. */
export function registerRemoveCommands(program: Command, app: Command): void {
  program
    .command("group")
    .description("server groups")
    .command("rm")
    .description(
      "remove a group: its balancer listener, image channel and its servers' desired state (refused while servers run or a deployment is open, unless --force terminates the servers); run it again after an interruption",
    )
    .argument("<group>")
    .option("--force", "terminate the group's servers first (drained from the balancer)")
    .option("--yes", "remove without asking")
    .option("--json", "print one JSON document")
    .action(async (group: string, opts: RemoveOptions & { force?: boolean }) => {
      const what = opts.force ? ` and terminate its servers` : "";
      if (!(await confirm(`Remove group ${group}${what}?`, opts))) return;
      const client = await createClient(program.opts());
      const query = opts.force ? "?force=true" : "";
      const view = await client.request<{ group: string; terminated: string[] }>(
        "DELETE",
        `/v1/groups/${encodeURIComponent(group)}${query}`,
      );
      if (opts.json) return printJson(view);
      const terminated = view.terminated.length ? `; terminated ${view.terminated.join(", ")}` : "";
      console.log(`removed group ${group}${terminated}`);
    });

  program
    .command("release")
    .description("built releases (`strata releases` lists them)")
    .command("rm")
    .description(
      "remove a release (APP@VERSION or its sha256 id) and its artifact: never one that runs, is desired or rolled back to, or is the base of an image",
    )
    .argument("<release>")
    .option("--yes", "remove without asking")
    .option("--json", "print one JSON document")
    .action(async (target: string, opts: RemoveOptions) => {
      const client = await createClient(program.opts());
      const { app, version } = await resolveRelease(client, target);
      if (!(await confirm(`Remove release ${app}@${version}?`, opts))) return;
      const path = `/v1/apps/${encodeURIComponent(app)}/releases/${encodeURIComponent(version)}`;
      const view = await client.request<{ removed: Release }>("DELETE", path);
      if (opts.json) return printJson(view);
      console.log(`removed release ${app}@${version} (${view.removed.id})`);
    });

  app
    .command("rm")
    .description(
      "remove an app no group runs: its traffic and forecasts, its releases and artifacts, its secrets; run it again after an interruption",
    )
    .argument("<app>")
    .option("--yes", "remove without asking")
    .option("--json", "print one JSON document")
    .action(async (name: string, opts: RemoveOptions) => {
      if (!(await confirm(`Remove app ${name}, its releases and its secrets?`, opts))) return;
      const client = await createClient(program.opts());
      const view = await client.request<{ app: string; releases: string[] }>(
        "DELETE",
        `/v1/apps/${encodeURIComponent(name)}`,
      );
      if (opts.json) return printJson(view);
      console.log(`removed app ${name} (${view.releases.length} release(s))`);
    });
}

async function resolveRelease(
  client: Awaited<ReturnType<typeof createClient>>,
  target: string,
): Promise<{ app: string; version: string }> {
  if (!target.startsWith("sha256:")) {
    const at = target.lastIndexOf("@");
    if (at <= 0 || at === target.length - 1) {
      throw new StrataError(
        "bad_request",
        `[cli] release rm: expected APP@VERSION or a sha256 id, got "${target}"`,
      );
    }
    return { app: target.slice(0, at), version: target.slice(at + 1) };
  }
  const { releases } = await client.get<{ releases: Release[] }>("/v1/releases");
  const matches = releases.filter((r) => r.id === target);
  if (matches.length === 0)
    throw new StrataError("not_found", `[cli] release rm: no release ${target}`);
  if (matches.length > 1) {
    const names = matches.map((r) => `${r.app}@${r.version}`).join(", ");
    throw new StrataError(
      "bad_request",
      `[cli] release rm: ${target} is ${names}: name one as APP@VERSION`,
    );
  }
  return { app: matches[0]!.app, version: matches[0]!.version };
}
