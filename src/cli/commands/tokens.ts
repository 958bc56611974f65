import type { Command } from "commander";
import { createClient } from "../client.js";
import { StrataError } from "../../lib/errors.js";
import type { RotateAgentTokensView } from "../../wire/tokens.js";
import { printJson, type OutputOptions } from "../output.js";

interface TokenView {
  name: string;
  role: string;
  created_at: string;
  revoked_at: string | null;
}

/** `strata tokens ...`: API tokens by role, join tokens for servers started by hand, agent rotation and revocation. */
export function registerTokensCommand(program: Command): void {
  const tokens = program.command("tokens").description("API tokens, join tokens and agent tokens");
  tokens
    .command("create <name>")
    .description("create an API token (printed once; only its hash is kept)")
    .requiredOption(
      "--role <role>",
      "admin, deployer (read, build, deploy, roll back, bake) or viewer (read)",
    )
    .option("--json", "print one JSON document")
    .action(async (name: string, opts: { role: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const created = await client.post<{ name: string; role: string; token: string }>(
        "/v1/tokens",
        {
          name,
          role: opts.role,
        },
      );
      if (opts.json) return printJson(created);
      console.log(created.token);
      process.stderr.write(`token ${created.name} (${created.role}): shown once, store it now\n`);
    });
  tokens
    .command("list")
    .description("list API tokens (never their values)")
    .option("--json", "print one JSON document")
    .action(async (opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const view = await client.get<{ tokens: TokenView[] }>("/v1/tokens");
      if (opts.json) return printJson(view);
      for (const t of view.tokens) {
        console.log(
          `${t.name}\t${t.role}\t${t.revoked_at ? `revoked ${t.revoked_at}` : `since ${t.created_at}`}`,
        );
      }
    });
  tokens
    .command("revoke <name>")
    .description("revoke an API token at once")
    .option("--json", "print one JSON document")
    .action(async (name: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const result = await client.request<unknown>(
        "DELETE",
        `/v1/tokens/${encodeURIComponent(name)}`,
      );
      if (opts.json) return printJson(result);
      console.log(`revoked ${name}`);
    });
  tokens
    .command("join")
    .description("issue a single-use join token for one server you start by hand (strata agent)")
    .requiredOption("--name <server>", "the server's name")
    .requiredOption("--group <group>", "its group")
    .option("--address <ip>", "refuse a join from any other address")
    .option("--json", "print one JSON document")
    .action(async (opts: { name: string; group: string; address?: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const issued = await client.post<{ join_token: string }>("/v1/tokens/join", {
        name: opts.name,
        group: opts.group,
        ...(opts.address ? { address: opts.address } : {}),
      });
      if (opts.json) return printJson(issued);
      console.log(issued.join_token);
      process.stderr.write(
        `single use, valid 1 h: STRATA_JOIN_TOKEN=... strata agent --name ${opts.name} --group ${opts.group} ...\n`,
      );
    });
  tokens
    .command("rotate [server]")
    .description(
      "make the next heartbeat of a server (or of every server of --group) rotate its agent token",
    )
    .option("--group <group>", "every server of the group")
    .option("--json", "print one JSON document")
    .action(async (server: string | undefined, opts: { group?: string } & OutputOptions) => {
      // A server by name, as revoke-agent takes it: `--server` is the control plane's URL.
      if (Boolean(server) === Boolean(opts.group))
        throw new StrataError("bad_request", "[cli] tokens rotate: give a server or --group");
      const target = server ? { server } : { group: opts.group };
      const client = await createClient(program.opts());
      const view = await client.post<RotateAgentTokensView>("/v1/tokens/agents/rotate", target);
      if (opts.json) return printJson(view);
      console.log(`${view.servers.join(", ")}: rotating at the next heartbeat`);
    });
  tokens
    .command("revoke-agent <server>")
    .description(
      "revoke a server's agent token: it is out of service until issued a new join token",
    )
    .option("--json", "print one JSON document")
    .action(async (server: string, opts: OutputOptions) => {
      const client = await createClient(program.opts());
      const result = await client.request<unknown>(
        "DELETE",
        `/v1/tokens/agents/${encodeURIComponent(server)}`,
      );
      if (opts.json) return printJson(result);
      console.log(`revoked the agent token of ${server}`);
    });
}
