import type { Command } from "commander";
import type { SessionView } from "../../wire/dashboard.js";
import { createClient, type ApiClient } from "../client.js";
import { printJson, progress, type OutputOptions } from "../output.js";

/** What `strata dashboard` reports. */
export interface DashboardInfo {
  url: string;
  /** Where the admin token to sign in with is, on the control plane's machine. */
  token_file: string;
  /** Whether the control plane has the built dashboard to serve. */
  built: boolean;
}

/** `strata dashboard`: prints the dashboard's URL; opens nothing. */
export function registerDashboardCommand(program: Command): void {
  program
    .command("dashboard")
    .description("print the URL of the control plane's dashboard (opens nothing)")
    .option("--json", "print one JSON document")
    .action(async (opts: OutputOptions) => {
      const info = await dashboardInfo(await createClient(program.opts()));
      if (opts.json) return printJson(info);
      console.log(info.url);
      progress(`sign in with the admin token in ${info.token_file}`);
      if (!info.built) progress("the dashboard is not built yet: run `npm run build:web`");
    });
}

export async function dashboardInfo(client: ApiClient): Promise<DashboardInfo> {
  const session = await client.get<SessionView>("/v1/session");
  const page = await fetch(client.baseUrl + "/", { method: "HEAD" });
  return { url: client.baseUrl + "/", token_file: session.token_file, built: page.ok };
}
