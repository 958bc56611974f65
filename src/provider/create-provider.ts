import { ConfigError } from "../lib/errors.js";
import { createOpenStackClient } from "../lib/openstack/client.js";
import { findCloud, type Cloud } from "../lib/openstack/clouds.js";
import { createLocalProvider, type LocalProviderOptions } from "./local/local-provider.js";
import { createOpenStackProvider } from "./openstack/openstack-provider.js";
import { agentUserData } from "./openstack/user-data.js";
import type { ProviderConfig } from "./provider-config.js";
import type { Provider } from "./provider.js";

export interface CreateProviderDeps {
  /** What the local provider needs besides its config (folder, agents' environment, images). */
  local: Omit<LocalProviderOptions, "addressPrefix">;
  /** Finds a cloud in clouds.yaml. @default findCloud (openstacksdk's search order) */
  findCloud?: (name: string | undefined) => Promise<Cloud>;
}

/** The provider strata.yaml names; an unknown name is a ConfigError naming the known ones. */
export async function createProvider(
  config: ProviderConfig,
  deps: CreateProviderDeps,
): Promise<Provider> {
  if ("local" in config)
    return createLocalProvider({ ...deps.local, addressPrefix: config.local.address_prefix });
  if ("openstack" in config) {
    const o = config.openstack;
    const cloud = await (deps.findCloud ?? ((name) => findCloud(name ? { cloud: name } : {})))(
      o.cloud,
    );
    const serverUrl = o.server_url;
    const agentOptions = {
      agentCommand: o.agent_command,
      root: o.server_root,
      ...(o.agent_prelude ? { prelude: o.agent_prelude } : {}),
    };
    return createOpenStackProvider({
      client: createOpenStackClient({ cloud }),
      flavor: o.flavor,
      network: o.network,
      baseImage: o.base_image,
      ...(o.key_name ? { keyName: o.key_name } : {}),
      securityGroups: o.security_groups,
      agent: agentOptions,
      ...(serverUrl
        ? {
            userData: (spec) =>
              agentUserData({ ...spec, agent: { ...spec.agent, server: serverUrl } }, agentOptions),
          }
        : {}),
    });
  }
  const name = Object.keys(config as object)[0] ?? "(none)";
  throw new ConfigError(
    "provider",
    `[config] provider: unknown provider "${name}" (expected local or openstack)`,
  );
}
