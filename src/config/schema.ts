import { z } from "zod";
import { forecastSection } from "../forecast/service/forecast-config.js";
import { agentTokensSection } from "../fleet/token-config.js";
import { groupsSection, imagesSection } from "../image/image-config.js";
import { scalingSchema } from "../scale/scale-config.js";
import { octaviaBalancerConfigSchema } from "../balancer/balancer-config.js";
import { openstackProviderConfigSchema } from "../provider/provider-config.js";
import { ArtifactsConfigSchema } from "../artifact/artifact-config.js";
import { CoordinationConfigSchema } from "../coord/coordination-config.js";
import { StateConfigSchema } from "../store/state-config.js";
import { opsConfigSchema } from "../ops/ops-config.js";
import { formatDuration } from "../lib/duration.js";
import {
  boolean,
  described,
  duration,
  kind,
  mapping,
  oneOf,
  strictMapping,
  text,
} from "./fields.js";

/**
 * The control plane's strata.yaml, all of it: the core keys below and the
 * sections that domain folders own. Every key of every section is validated
 * at load (strict: an unknown key anywhere is an error naming its path), so
 * an invalid file is rejected whole before anything starts.
 *
 * To add a section, export its zod schema from the domain folder (built from
 * `./fields.js`: `mapping`, `duration`, `integer`, `described`, ...) and add
 * one line to SECTIONS:
 *
 * ```ts
 * scaling: scalingSection,                  // top-level `scaling:`
 * "provider.openstack": openstackSection,   // `provider: { openstack: ... }`
 * ```
 *
 * A key `parent.child` nests the section under the core mapping `provider` or
 * `balancer`. A schema that needs the load context (the working folder, for
 * relative paths) is given as a function of it, like `groups`. The section's
 * validated value is then `config.settings[name]` (typed), and its raw YAML
 * value `config.sections[name]`. docs/config.md lists it after
 * `npm run docs:config`.
 */
export const SECTIONS = {
  forecast: forecastSection,
  agent_tokens: agentTokensSection,
  groups: groupsSection,
  images: imagesSection,
  scaling: scalingSchema.optional(),
  "provider.openstack": openstackProviderConfigSchema.optional().meta({
    description:
      "launch servers as Nova servers: cloud, flavor, network (or none), base_image, key_name, security_groups (docs/openstack.md)",
  }),
  "balancer.octavia": octaviaBalancerConfigSchema.optional().meta({
    description:
      "service-in and out as Octavia pool members: loadbalancer, pool (docs/openstack.md)",
  }),
  state: StateConfigSchema.optional().meta({
    description:
      "where durable state lives: `sqlite` (in data_dir) or `{ postgres: { url, schema, max_connections } }` (docs/engines.md)",
    default: "`sqlite`",
  }),
  coordination: CoordinationConfigSchema.optional().meta({
    description:
      "desired state, locks and leadership: `embedded` or `{ etcd: { endpoints, prefix, lease_ttl } }` (docs/engines.md)",
    default: "`embedded`",
  }),
  artifacts: ArtifactsConfigSchema.optional().meta({
    description:
      "release tarballs: `local` (in data_dir) or `{ s3: { endpoint, bucket, region, ... } }`; S3 secrets from the environment or a file (docs/engines.md)",
    default: "`local`",
  }),
  ops: opsConfigSchema.optional().meta({
    description:
      "`strata logs` and `strata exec`: idle_timeout, max_exec_output (docs/operations.md)",
  }),
} satisfies SectionRegistry;

/** What a section's schema may use at load. */
export interface ConfigContext {
  /** Folder that relative paths of the file resolve against. */
  readonly cwd: string;
}

export type SectionSchema = z.ZodType | ((context: ConfigContext) => z.ZodType);
export type SectionRegistry = Readonly<Record<string, SectionSchema>>;

type SchemaOf<S> = S extends (context: ConfigContext) => infer R ? R : S;
type ValueOf<S extends z.ZodType> =
  undefined extends z.input<S> ? z.output<S> : z.output<S> | undefined;

/** Each registered section's validated value, by its registry name. */
export type SectionValues<R extends SectionRegistry = typeof SECTIONS> = {
  readonly [K in keyof R]: ValueOf<SchemaOf<R[K]> & z.ZodType>;
};

/** The core mappings that sections may nest under (`provider.openstack`). */
export const NESTING_PARENTS = ["provider", "balancer"] as const;

export const CORE_DEFAULTS = {
  dataDir: ".strata",
  listen: "127.0.0.1:7700",
  addressPrefix: "127.0.0",
  balancerHost: "127.0.0.1",
} as const;

const listen = described(
  z
    .string({ error: (i) => `must be host:port, got ${kind(i.input)}` })
    .prefault(CORE_DEFAULTS.listen)
    .transform((value, ctx) => {
      const parsed = parseListen(value);
      if (!parsed) ctx.addIssue({ code: "custom", message: `expected host:port, got "${value}"` });
      return parsed ?? z.NEVER;
    }),
  {
    type: "host:port",
    description: "Address of the HTTP API. Env `STRATA_LISTEN`, flag `--listen`.",
  },
);

const addressPrefix = described(
  z
    .string({ error: (i) => `must be three octets like "127.0.0", got ${kind(i.input)}` })
    .regex(/^127\.\d{1,3}\.\d{1,3}$/, {
      error: (i) =>
        `expected three octets of a loopback address like "127.0.0", got ${kind(i.input)}`,
    })
    .prefault(CORE_DEFAULTS.addressPrefix),
  {
    type: "127.x.y",
    description:
      "First three octets of local servers' addresses; servers get .2 upwards, each on its own loopback address.",
  },
);

const coreShape = {
  data_dir: described(text().prefault(CORE_DEFAULTS.dataDir), {
    description:
      "Where state, artifacts, tokens and local servers live. Env `STRATA_DATA_DIR`, flag `--data-dir`.",
  }),
  listen,
  provider: { local: mapping({ address_prefix: addressPrefix }) },
  balancer: {
    host: described(text().prefault(CORE_DEFAULTS.balancerHost), {
      description: "Loopback address of the built-in load balancer's listeners (one per group).",
    }),
  },
  heartbeat_interval: duration({
    default: "5s",
    bareUnit: "ms",
    description: "How often agents of the local provider report.",
  }),
  heartbeat_timeout: duration({
    default: "15s",
    bareUnit: "ms",
    description:
      "A server without a heartbeat this long is offline and out of the balancer; longer than `heartbeat_interval`.",
  }),
  deploy: mapping({
    server_timeout: duration({
      default: "10m",
      bareUnit: "ms",
      description: "Longest wait for one server in a deployment wave.",
    }),
    drain_timeout: duration({
      default: "10s",
      bareUnit: "ms",
      description: "Longest drain of in-flight requests when a server leaves the balancer.",
    }),
  }),
  tls: described(oneOf(["auto", "on", "off"]).prefault("auto"), {
    description:
      "HTTPS for the API with strata's own CA (made at first start in `<data_dir>/tls/`): `auto` serves HTTPS when `listen` is not a loopback address, `on` always, `off` never (with a warning off loopback).",
  }),
  join: mapping({
    cluster_token: described(boolean().prefault(false), {
      description:
        "Let agents join under any new name with the cluster-wide join token (`<data_dir>/join-token`). Off: a server joins only with the single-use token issued for it at launch or by `strata tokens join`.",
    }),
  }),
};

/** The schema of the whole file with `sections` plugged in. */
export function serverSchema(sections: SectionRegistry, context: ConfigContext) {
  const nested: Record<string, Record<string, z.ZodType>> = { provider: {}, balancer: {} };
  const top: Record<string, z.ZodType> = {};
  for (const [name, entry] of Object.entries(sections)) {
    const schema = typeof entry === "function" ? entry(context) : entry;
    const [parent, child] = name.split(".");
    if (child === undefined) top[name] = schema;
    else if (parent === "provider" || parent === "balancer") nested[parent]![child] = schema;
    else throw new Error(`[config] section ${name}: only provider.* and balancer.* nest`);
  }
  return strictMapping({
    ...coreShape,
    provider: mapping({ ...coreShape.provider, ...nested.provider }),
    balancer: mapping({ ...coreShape.balancer, ...nested.balancer }),
    ...top,
  }).check((ctx) => {
    const { heartbeat_interval: interval, heartbeat_timeout: timeout } = ctx.value;
    // A timeout within one interval would mark healthy servers offline between two heartbeats.
    if (typeof interval === "number" && typeof timeout === "number" && timeout <= interval) {
      ctx.issues.push({
        code: "custom",
        path: ["heartbeat_timeout"],
        message: `must be longer than heartbeat_interval (${formatDuration(interval)}), got ${formatDuration(timeout)}`,
        input: timeout,
      });
    }
  });
}

/** The core keys as the schema reads them (sections aside). */
export interface CoreDocument {
  data_dir: string;
  listen: { host: string; port: number };
  provider: { local: { address_prefix: string } } & Record<string, unknown>;
  balancer: { host: string } & Record<string, unknown>;
  heartbeat_interval: number;
  heartbeat_timeout: number;
  deploy: { server_timeout: number; drain_timeout: number };
  join: { cluster_token: boolean };
  tls: "auto" | "on" | "off";
}

/** The value at a registry name (`forecast`, `provider.openstack`) of a document. */
export function sectionAt(doc: Record<string, unknown>, name: string): unknown {
  const [parent, child] = name.split(".");
  if (child === undefined) return doc[name];
  const inner = doc[parent!];
  return inner && typeof inner === "object" ? (inner as Record<string, unknown>)[child] : undefined;
}

export function parseListen(text: string): { host: string; port: number } | null {
  const match = /^([\w.-]+|\[[0-9a-f:]+\]):(\d{1,5})$/i.exec(text);
  if (!match) return null;
  const port = Number(match[2]);
  return port <= 65535 ? { host: match[1]!, port } : null;
}
