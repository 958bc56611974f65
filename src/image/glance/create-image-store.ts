import { createOpenStackClient } from "../../lib/openstack/client.js";
import { findCloud, type Cloud } from "../../lib/openstack/clouds.js";
import type { OpenStackProviderConfig } from "../../provider/provider-config.js";
import type { ImageStore } from "../image-store.js";
import { createGlanceImageStore } from "./glance-image-store.js";

/**
 * The image store bakes go to: Glance (builders booted with the provider's
 * flavor, network and base image) when `provider: openstack` is configured,
 * else the local one.
 */
export async function createConfiguredImageStore(
  openstack: OpenStackProviderConfig | undefined,
  local: ImageStore,
  deps: { findCloud?: (name: string | undefined) => Promise<Cloud> } = {},
): Promise<ImageStore> {
  if (!openstack) return local;
  const cloud = await (deps.findCloud ?? ((name) => findCloud(name ? { cloud: name } : {})))(
    openstack.cloud,
  );
  return createGlanceImageStore({
    client: createOpenStackClient({ cloud }),
    builder: {
      flavor: openstack.flavor,
      network: openstack.network,
      baseImage: openstack.base_image,
      ...(openstack.key_name ? { keyName: openstack.key_name } : {}),
      securityGroups: openstack.security_groups,
      root: openstack.server_root,
      agentCommand: openstack.agent_command,
    },
  });
}
