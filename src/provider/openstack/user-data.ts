import { StrataError } from "../../lib/errors.js";
import type { LaunchSpec } from "../provider.js";

/** Nova refuses user_data longer than 65,535 bytes (after base64). */
export const USER_DATA_LIMIT = 65_535;

export interface AgentUserDataOptions {
  /** Command that runs the agent on the image. @default "strata agent" */
  agentCommand?: string;
  /** Folder the agent keeps releases in. @default "/var/lib/strata/server" */
  root?: string;
  /** Shell run before the agent starts (e.g. installing Node 20 and strata), as root. @default "" */
  prelude?: string;
}

/** Where the user data puts strata's CA for the agent. */
const CA_FILE = "/etc/strata/ca.pem";

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * A cloud-init shell script that starts the agent with its join token, as a
 * systemd service when systemd runs (restarted on crash, started at boot),
 * else in the background. The token lands in a root-only file, never in argv.
 * With strata's CA (the control plane serves HTTPS with its own certificate),
 * the CA goes to `/etc/strata/ca.pem` and the agent pins it (`--ca-file`).
 */
export function agentUserData(spec: LaunchSpec, options: AgentUserDataOptions = {}): string {
  const root = options.root ?? "/var/lib/strata/server";
  const command = options.agentCommand ?? "strata agent";
  const env = [
    `STRATA_SERVER=${quote(spec.agent.server)}`,
    `STRATA_JOIN_TOKEN=${quote(spec.agent.joinToken)}`,
  ].join("\n");
  const pem = spec.agent.ca?.trim();
  const writeCa = pem ? `cat > ${CA_FILE} <<'STRATA_CA'\n${pem}\nSTRATA_CA\n` : "";
  const args = `--group ${quote(spec.agent.group)} --root ${quote(root)} --name ${quote(spec.name)}${pem ? ` --ca-file ${CA_FILE}` : ""}`;
  return `#!/bin/sh
# strata: start the agent of server ${spec.name} (group ${spec.agent.group})
set -eu
${options.prelude ?? ""}
mkdir -p ${quote(root)} /etc/strata
# Only the token file is private: an agent started below with umask 077 unpacked releases its
# unprivileged app could not read (found by the testbed e2e).
(umask 077; cat > /etc/strata/agent.env) <<'STRATA_ENV'
${env}
STRATA_ENV
${writeCa}address=$(hostname -I 2>/dev/null | awk '{print $1}')
[ -n "$address" ] || address=127.0.0.1
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/strata-agent.service <<STRATA_UNIT
[Unit]
Description=strata agent
After=network-online.target
Wants=network-online.target
[Service]
EnvironmentFile=/etc/strata/agent.env
ExecStart=/bin/sh -c 'exec ${command} ${args.replace(/'/g, "")} --address $address'
Restart=always
RestartSec=2
[Install]
WantedBy=multi-user.target
STRATA_UNIT
  systemctl daemon-reload
  systemctl enable --now strata-agent.service
else
  set -a; . /etc/strata/agent.env; set +a
  nohup ${command} ${args} --address "$address" >>/var/log/strata-agent.log 2>&1 &
fi
`;
}

/** Base64 of the script, refused when Nova would refuse it. */
export function encodeUserData(script: string): string {
  const encoded = Buffer.from(script, "utf8").toString("base64");
  if (encoded.length > USER_DATA_LIMIT) {
    throw new StrataError(
      "too_large",
      `[provider] openstack: user_data is ${encoded.length} bytes in base64; Nova takes at most ${USER_DATA_LIMIT}`,
    );
  }
  return encoded;
}
