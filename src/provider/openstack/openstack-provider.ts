import { StrataError } from "../../lib/errors.js";
import type { OpenStackClient } from "../../lib/openstack/client.js";
import { OpenStackError } from "../../lib/openstack/errors.js";
import type { Instance, InstanceState, LaunchSpec, Provider } from "../provider.js";
import { agentUserData, encodeUserData, type AgentUserDataOptions } from "./user-data.js";

export interface OpenStackProviderOptions {
  client: OpenStackClient;
  /** Flavor name or id. */
  flavor: string;
  /** Network name or id, or "none" (no network: microversion 2.37's `networks: "none"`). */
  network: string;
  /** Image (name or id) servers boot from when the launch names none. */
  baseImage: string;
  /** Nova keypair injected into servers. */
  keyName?: string;
  /** Security group names. @default [] (the project's default group) */
  securityGroups?: string[];
  /** How the user data starts the agent. */
  agent?: AgentUserDataOptions;
  /** The user data of one launch. @default agentUserData(spec, agent) */
  userData?: (spec: LaunchSpec) => string;
  /** Poll interval while waiting for a state. @default 1000 */
  pollMs?: number;
  /** Longest wait for ACTIVE after create. @default 600000 */
  bootTimeoutMs?: number;
  /**
   * A server found SHUTOFF while booting has booted and powered itself off (a bake's builder,
   * whose script ends with a poweroff, may finish between two polls). @default false: an error
   */
  shutoffIsBooted?: boolean;
  /** Longest wait for a deleted server to be gone. @default 300000 */
  deleteTimeoutMs?: number;
}

/** Tag every server strata launches carries (Nova tags: at most 60 characters, no "/" or ","). */
export const STRATA_TAG = "strata";

interface NovaServer {
  id: string;
  name: string;
  status: string;
  created: string;
  image: { id: string } | "" | null;
  metadata?: Record<string, string>;
  tags?: string[];
  addresses?: Record<string, { addr: string; version: number; "OS-EXT-IPS:type"?: string }[]>;
  accessIPv4?: string;
  fault?: { code: number; message: string; details?: string };
  "OS-EXT-STS:task_state"?: string | null;
}

/** Wait before deleting again a server whose delete failed. */
const REDELETE_MS = 10_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Nova status -> strata's instance state. SHUTOFF and the like are not serving: error. */
export function stateOf(status: string): InstanceState {
  if (status === "ACTIVE") return "active";
  if (status === "DELETED" || status === "SOFT_DELETED") return "deleted";
  if (
    [
      "BUILD",
      "REBUILD",
      "REBOOT",
      "HARD_REBOOT",
      "RESIZE",
      "VERIFY_RESIZE",
      "MIGRATING",
      "PASSWORD",
    ].includes(status)
  )
    return "building";
  return "error";
}

/** `key=value` tags, the form Nova's `tags` filter can match; null when Nova cannot hold it. */
function tagOf(key: string, value: string): string | null {
  const tag = `${key}=${value}`;
  return tag.length <= 60 && !/[/,]/.test(tag) ? tag : null;
}

/** Servers as Nova instances, launched from Glance images with user data that starts the agent. */
export function createOpenStackProvider(options: OpenStackProviderOptions): Provider & {
  /** Nova's view of one server (faults included); null when gone. */
  server(id: string): Promise<NovaServer | null>;
  /** Waits until the server is gone (404). */
  waitGone(id: string): Promise<void>;
} {
  const { client } = options;
  const pollMs = options.pollMs ?? 1000;
  const bootTimeoutMs = options.bootTimeoutMs ?? 600_000;
  const deleteTimeoutMs = options.deleteTimeoutMs ?? 300_000;
  const prefix = `[provider] openstack (cloud ${client.cloud.name})`;
  const resolved = new Map<string, Promise<string>>();

  function once(key: string, work: () => Promise<string>): Promise<string> {
    let found = resolved.get(key);
    if (!found) {
      found = work();
      resolved.set(key, found);
      found.catch(() => resolved.delete(key));
    }
    return found;
  }

  const flavorId = () =>
    once(`flavor ${options.flavor}`, async () => {
      const direct = await client.request<{ flavor: { id: string } }>(
        "compute",
        "GET",
        `/flavors/${encodeURIComponent(options.flavor)}`,
        { accept: [404] },
      );
      if (direct.status === 200) return direct.body.flavor.id;
      const all = await client.list<{ id: string; name: string }>("compute", "/flavors", "flavors");
      const match = all.find((f) => f.name === options.flavor);
      if (!match) {
        const known = all.map((f) => f.name).join(", ") || "none";
        throw new StrataError(
          "invalid_config",
          `${prefix}: compute: flavor ${options.flavor} is unknown (flavors: ${known}; request ${direct.requestId ?? "without id"})`,
        );
      }
      return match.id;
    });

  const imageId = (image: string) =>
    once(`image ${image}`, async () => {
      if (UUID.test(image)) {
        const direct = await client.request<{ id: string; status: string }>(
          "image",
          "GET",
          `/images/${image}`,
          { accept: [404] },
        );
        if (direct.status === 200) return direct.body.id;
        throw new StrataError(
          "not_found",
          `${prefix}: image: image ${image} is unknown (request ${direct.requestId ?? "without id"})`,
        );
      }
      const found = await client.list<{ id: string }>("image", "/images", "images", {
        name: image,
      });
      if (found.length !== 1) {
        throw new StrataError(
          found.length === 0 ? "not_found" : "conflict",
          `${prefix}: image: ${found.length === 0 ? "no image" : `${found.length} images`} named ${image}${found.length > 1 ? " (name it by id)" : ""}`,
        );
      }
      return found[0]!.id;
    });

  const networks = async (): Promise<"none" | { uuid: string }[]> => {
    if (options.network === "none") return "none";
    if (UUID.test(options.network)) return [{ uuid: options.network }];
    throw new StrataError(
      "invalid_config",
      `${prefix}: network ${options.network}: name it by id, or "none"`,
    );
  };

  function instanceOf(server: NovaServer): Instance {
    const metadata = server.metadata ?? {};
    const addresses = Object.values(server.addresses ?? {}).flat();
    const ipv4 = addresses.filter((a) => a.version === 4);
    const address =
      ipv4.find((a) => a["OS-EXT-IPS:type"] !== "floating")?.addr ??
      ipv4[0]?.addr ??
      server.accessIPv4 ??
      "";
    const { "strata:image": image, ...tags } = metadata;
    return {
      id: server.id,
      name: server.name,
      state: stateOf(server.status),
      address,
      tags,
      image: image ?? (server.image && typeof server.image === "object" ? server.image.id : null),
      created_at: server.created,
    };
  }

  async function server(id: string): Promise<NovaServer | null> {
    const answer = await client.request<{ server: NovaServer }>(
      "compute",
      "GET",
      `/servers/${id}`,
      {
        accept: [404],
      },
    );
    if (answer.status === 404) return null;
    return stateOf(answer.body.server.status) === "deleted" ? null : answer.body.server;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function waitGone(id: string): Promise<void> {
    const deadline = Date.now() + deleteTimeoutMs;
    // Only a 404 means gone: a server shows DELETED while Nova still tears it down, and a
    // second delete then may turn it ERROR for a moment.
    let lastDelete = Date.now();
    for (;;) {
      const answer = await client.request<{ server: NovaServer }>(
        "compute",
        "GET",
        `/servers/${id}`,
        {
          accept: [404],
        },
      );
      if (answer.status === 404) return;
      const current = answer.body.server;
      // A delete that failed on the compute host (or got lost on the way there) leaves the server
      // with no task (ERROR, or still ACTIVE): ask again.
      if (!current["OS-EXT-STS:task_state"] && Date.now() - lastDelete > REDELETE_MS) {
        lastDelete = Date.now();
        await client.request("compute", "DELETE", `/servers/${id}`, { accept: [404] });
      }
      if (Date.now() > deadline)
        throw new StrataError(
          "timeout",
          `${prefix}: server ${id} still exists ${deleteTimeoutMs} ms after its delete`,
        );
      await sleep(pollMs);
    }
  }

  async function terminate(id: string): Promise<void> {
    await client.request("compute", "DELETE", `/servers/${id}`, { accept: [404] });
    await waitGone(id);
  }

  /** Deletes a server a failed launch left, keeping the launch's error the one reported. */
  async function discard(id: string, err: unknown): Promise<never> {
    await terminate(id).catch((cleanup: unknown) => {
      if (err instanceof Error)
        err.message += `; deleting server ${id} failed too: ${(cleanup as Error).message}`;
    });
    throw err;
  }

  return {
    name: "openstack",
    server,
    waitGone,
    async launch(spec) {
      const metadata: Record<string, string> = { ...spec.tags, "strata:group": spec.group };
      const image = spec.image ?? options.baseImage;
      metadata["strata:image"] = image;
      for (const [k, v] of Object.entries(metadata)) {
        if (k.length > 255 || v.length > 255)
          throw new StrataError(
            "bad_request",
            `${prefix}: metadata ${k}: keys and values are at most 255 characters`,
          );
      }
      const tags = [STRATA_TAG, ...Object.entries(metadata).flatMap(([k, v]) => tagOf(k, v) ?? [])];
      const userData = encodeUserData(
        (options.userData ?? ((s) => agentUserData(s, options.agent)))(spec),
      );
      const [flavorRef, imageRef, nets] = await Promise.all([
        flavorId(),
        imageId(image),
        networks(),
      ]);
      const existing = await this.list({ "strata:group": spec.group });
      if (existing.some((i) => i.name === spec.name))
        throw new StrataError("conflict", `${prefix}: a server named ${spec.name} exists`);
      const created = await client.request<{ server: { id: string } }>(
        "compute",
        "POST",
        "/servers",
        {
          body: {
            server: {
              name: spec.name,
              imageRef,
              flavorRef,
              networks: nets,
              user_data: userData,
              metadata,
              tags: tags.slice(0, 50),
              ...(options.keyName ? { key_name: options.keyName } : {}),
              ...(options.securityGroups?.length
                ? { security_groups: options.securityGroups.map((name) => ({ name })) }
                : {}),
            },
          },
          // A 409 on create is not "busy, retry": it names a real conflict.
          retryConflict: false,
        },
      );
      const id = created.body.server.id;
      try {
        const deadline = Date.now() + bootTimeoutMs;
        for (;;) {
          const current = await server(id);
          if (!current)
            throw new StrataError(
              "unavailable",
              `${prefix}: server ${spec.name} (${id}) vanished while building`,
            );
          const state = stateOf(current.status);
          if (state === "active") return instanceOf(current);
          if (options.shutoffIsBooted && current.status === "SHUTOFF") return instanceOf(current);
          if (state === "error") {
            // Nova may set ERROR a moment before it records the fault.
            for (let i = 0; i < 5 && !current.fault; i++) {
              await sleep(pollMs);
              current.fault = (await server(id))?.fault;
            }
            const fault = current.fault
              ? `${current.fault.code} ${current.fault.message}`
              : "no fault recorded";
            throw new OpenStackError(
              "unavailable",
              `${prefix}: compute: server ${spec.name} (${id}) went ${current.status}: ${fault} (request ${created.requestId ?? "without id"})`,
              {
                cloud: client.cloud.name,
                service: "compute",
                status: 0,
                requestId: created.requestId,
              },
            );
          }
          if (Date.now() > deadline)
            throw new StrataError(
              "timeout",
              `${prefix}: server ${spec.name} (${id}) not ACTIVE after ${bootTimeoutMs} ms`,
            );
          await sleep(pollMs);
        }
      } catch (err) {
        return discard(id, err);
      }
    },
    async get(id) {
      const found = await server(id);
      return found ? instanceOf(found) : null;
    },
    async list(tags = {}) {
      const wanted = [STRATA_TAG, ...Object.entries(tags).flatMap(([k, v]) => tagOf(k, v) ?? [])];
      const servers = await client.list<NovaServer>("compute", "/servers/detail", "servers", {
        tags: wanted.join(","),
      });
      return servers
        .filter((s) => stateOf(s.status) !== "deleted")
        .map(instanceOf)
        .filter((i) => Object.entries(tags).every(([k, v]) => i.tags[k] === v));
    },
    terminate,
    async resume() {},
    async close() {},
  };
}
