import { z } from "zod";
import { namedSchema } from "../lib/named-config.js";

/** `provider.local`: servers as local agent processes on loopback addresses. */
export const localProviderConfigSchema = z.strictObject({
  /** First three octets of the servers' loopback addresses. @default "127.0.0" */
  address_prefix: z
    .string()
    .regex(/^127\.\d{1,3}\.\d{1,3}$/, 'expected three octets of a loopback address like "127.0.0"')
    .default("127.0.0"),
});

/** `provider.openstack`: servers as Nova instances. */
export const openstackProviderConfigSchema = z.strictObject({
  /** Cloud name in clouds.yaml (OS_CLOUD when absent). */
  cloud: z
    .string()
    .min(1)
    .optional()
    .meta({ description: "Cloud name in clouds.yaml (OS_CLOUD when absent)." }),
  /** Flavor name or id. */
  flavor: z.string().min(1).meta({ description: "Flavor name or id." }),
  /** Network id, or "none" for no network (compute microversion 2.37+). */
  network: z
    .string()
    .min(1)
    .meta({ description: 'Network id, or "none" for no network (compute microversion 2.37+).' }),
  /** Image (name or id) the first servers boot from, before strata has baked any. */
  base_image: z.string().min(1).meta({
    description: "Image (name or id) the first servers boot from, before strata has baked any.",
  }),
  /** Nova keypair for operators' SSH access. */
  key_name: z
    .string()
    .min(1)
    .optional()
    .meta({ description: "Nova keypair for operators' SSH access." }),
  /** Security group names. @default [] */
  security_groups: z
    .array(z.string().min(1))
    .default([])
    .meta({ description: "Security group names. (default [])" }),
  /** Command that runs the agent on the image; a bake's builder lays a release with its `lay-release`. @default "strata agent" */
  agent_command: z.string().min(1).default("strata agent").meta({
    description:
      'Command that runs the agent on the image; a bake\'s builder lays a release with its `lay-release`. (default "strata agent")',
  }),
  /** Shell run as root before the agent starts (installing Node 20 and strata on a bare image). */
  agent_prelude: z.string().optional().meta({
    description:
      "Shell run as root before the agent starts (installing Node 20 and strata on a bare image).",
  }),
  /** The agent's server root on the image; a bake puts the release there. @default "/var/lib/strata/server" */
  server_root: z
    .string()
    .regex(/^\/[^']*$/, "expected an absolute path without quotes")
    .default("/var/lib/strata/server")
    .meta({
      description:
        'The agent\'s server root on the image; a bake puts the release there. (default "/var/lib/strata/server")',
    }),
  /** Control-plane URL agents (and bake builders) on the servers reach (the listen address is loopback by default). */
  server_url: z.url().optional().meta({
    description:
      "Control-plane URL agents (and bake builders) on the servers reach (the listen address is loopback by default).",
  }),
});

/**
 * `provider:` in strata.yaml: exactly one implementation by name. Absent
 * means `local` with its defaults.
 */
export const providerConfigSchema = namedSchema("provider", {
  local: localProviderConfigSchema,
  openstack: openstackProviderConfigSchema,
});

export type ProviderConfig = z.output<typeof providerConfigSchema>;
export type OpenStackProviderConfig = z.output<typeof openstackProviderConfigSchema>;
