import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packDirectory } from "../../artifact/pack.js";
import { messageOf, StrataError } from "../../lib/errors.js";
import type { OpenStackClient } from "../../lib/openstack/client.js";
import { createOpenStackProvider } from "../../provider/openstack/openstack-provider.js";
import {
  ImageBuildError,
  type BuildRequest,
  type BuildResult,
  type Image,
  type ImageSpec,
  type ImageState,
  type ImageStore,
} from "../image-store.js";
import {
  builderUserData,
  DONE_MARKER,
  FAILED_MARKER,
  type BuilderPayload,
} from "./builder-user-data.js";

export interface GlanceImageStoreOptions {
  client: OpenStackClient;
  /** How builder servers boot (provider.openstack's settings); `baseImage` is the parent of a base layer. */
  builder: {
    flavor: string;
    network: string;
    baseImage: string;
    keyName?: string;
    securityGroups?: string[];
    /** The agent's server root on the image, where a release layer goes. @default "/var/lib/strata/server" */
    root?: string;
    /**
     * Command that runs the agent on the image (the provider's `agent_command`):
     * a release layer's builder lays the release with its `lay-release`.
     * @default "strata agent"
     */
    agentCommand?: string;
  };
  /**
   * Marks this store's images (property `strata:store`) so that `list` sees
   * only them, never other images of the project. @default "strata"
   */
  namespace?: string;
  /** Poll interval while waiting for Nova or Glance. @default 2000 */
  pollMs?: number;
  /** Longest wait for a builder to be ACTIVE. @default 600000 */
  bootTimeoutMs?: number;
  /** Longest a release layer's builder may run before it powers off. @default 600000 */
  releaseTimeoutMs?: number;
  /** Longest wait for the snapshot to turn `active`. @default 1800000 */
  snapshotTimeoutMs?: number;
}

interface GlanceImage {
  id: string;
  name: string;
  status: string;
  size: number | null;
  protected: boolean;
  created_at: string;
  updated_at: string;
  [key: string]: unknown;
}

/** Properties the store keeps for itself, never shown in `Image.properties`. */
const STORE = "strata:store";
const CREATED = "strata:created";
const ERROR = "strata:error";
const INTERNAL = new Set([STORE, CREATED, ERROR]);
/** Glance caps property values at 255 characters. */
const VALUE_LIMIT = 255;
const JSON_PATCH = "application/openstack-images-v2.1-json-patch";

const STATES: Record<string, ImageState> = {
  queued: "queued",
  saving: "saving",
  uploading: "saving",
  importing: "saving",
  active: "active",
  deactivated: "active",
  killed: "killed",
};

/**
 * Golden images as Glance images, baked by Nova: `build` boots a builder
 * server from the parent image with user data that applies the layer and
 * powers it off, snapshots it (createImage; microversion 2.45+ answers with
 * the new image's id), waits for the snapshot to be `active`, sets the
 * layer's properties on it and deletes the builder. The snapshot replaces
 * the queued image `create` registered (Nova picks a snapshot's id): `build`
 * returns it, and the queued one is deleted. A failure at any step deletes
 * what the build created and marks the queued image killed (Glance lets no
 * client set `killed`: the property `strata:error` stands for it).
 */
export function createGlanceImageStore(options: GlanceImageStoreOptions): ImageStore {
  const { client } = options;
  const namespace = options.namespace ?? "strata";
  const pollMs = options.pollMs ?? 2000;
  const releaseTimeoutMs = options.releaseTimeoutMs ?? 600_000;
  const bootTimeoutMs = options.bootTimeoutMs ?? 600_000;
  const { root, agentCommand, ...builder } = options.builder;
  const snapshotTimeoutMs = options.snapshotTimeoutMs ?? 1_800_000;
  const prefix = `[image] glance (cloud ${client.cloud.name})`;
  const provider = (userData: string) =>
    createOpenStackProvider({
      client,
      ...builder,
      userData: () => userData,
      pollMs,
      bootTimeoutMs,
      // Regression (CI): a builder that powered off before a poll saw it ACTIVE failed its bake.
      shutoffIsBooted: true,
    });
  /** Waits `ms`, or rejects when `signal` aborts (its listener removed either way). */
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });

  function imageOf(raw: GlanceImage): Image {
    const properties: Record<string, string> = {};
    for (const [key, value] of Object.entries(raw))
      if (key.startsWith("strata:") && !INTERNAL.has(key) && typeof value === "string")
        properties[key] = value;
    return {
      id: raw.id,
      name: raw.name,
      state: typeof raw[ERROR] === "string" ? "killed" : (STATES[raw.status] ?? "killed"),
      size: raw.status === "active" ? (raw.size ?? 0) : null,
      properties,
      created_at: typeof raw[CREATED] === "string" ? raw[CREATED] : raw.created_at,
      updated_at: raw.updated_at,
    };
  }

  async function raw(id: string): Promise<GlanceImage | null> {
    const answer = await client.request<GlanceImage>("image", "GET", `/images/${id}`, {
      accept: [404],
    });
    if (answer.status === 404 || !answer.body) return null;
    return ["deleted", "pending_delete"].includes(answer.body.status) ? null : answer.body;
  }

  /** One JSON patch: `add` (adds or replaces) string properties, `remove` others. */
  async function setProperties(
    id: string,
    properties: Record<string, string>,
    removed: string[] = [],
  ): Promise<void> {
    const path = (key: string) => `/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    const patch = [
      ...Object.entries(properties).map(([key, value]) => ({
        op: "add",
        path: path(key),
        value: value.slice(0, VALUE_LIMIT),
      })),
      ...removed.map((key) => ({ op: "remove", path: path(key) })),
    ];
    if (patch.length === 0) return;
    await client.request("image", "PATCH", `/images/${id}`, {
      raw: Buffer.from(JSON.stringify(patch)),
      contentType: JSON_PATCH,
    });
  }

  async function payloadOf(
    request: BuildRequest,
    image: string,
    work: string,
    signal: AbortSignal,
  ): Promise<BuilderPayload> {
    const { layer } = request;
    if (layer.kind === "recipe") {
      const packed = await packDirectory(layer.dir, join(work, "recipe.tar.gz"));
      return {
        kind: "recipe",
        tarball: await readFile(packed.file),
        timeoutMs: layer.timeoutMs,
        env: layer.env ?? {},
      } satisfies BuilderPayload;
    }
    // The builder fetches it: a release of any size bakes, the user data stays small.
    if (layer.fetchGrant)
      return {
        kind: "release",
        grant: layer.fetchGrant(image, bootTimeoutMs + releaseTimeoutMs),
        release: layer.release,
      };
    const file = join(work, "release.tar.gz");
    await layer.download(file, signal);
    return {
      kind: "release",
      tarball: await readFile(file),
      release: layer.release,
    } satisfies BuilderPayload;
  }

  async function consoleOf(serverId: string): Promise<string> {
    const answer = await client.request<{ output: string }>(
      "compute",
      "POST",
      `/servers/${serverId}/action`,
      { body: { "os-getConsoleOutput": { length: 200 } }, accept: [404, 409] },
    );
    return answer.body?.output ?? "";
  }

  async function until<T>(
    what: string,
    timeoutMs: number,
    signal: AbortSignal,
    probe: () => Promise<T | undefined>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal.throwIfAborted();
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline)
        throw new StrataError("timeout", `${prefix}: ${what}: not done after ${timeoutMs} ms`);
      await sleep(pollMs, signal);
    }
  }

  async function bake(image: Image, request: BuildRequest, signal: AbortSignal) {
    const work = await mkdtemp(join(tmpdir(), "strata-glance-bake-"));
    const created: { builder?: string; snapshot?: string } = {};
    const nova = provider(
      builderUserData(
        await payloadOf(request, image.id, work, signal).finally(() =>
          rm(work, { recursive: true, force: true }),
        ),
        { image: image.name, ...(root ? { root } : {}), ...(agentCommand ? { agentCommand } : {}) },
      ),
    );
    try {
      // 1. Boot the builder from the parent (the provider deletes a server that never got ACTIVE).
      const builder = await nova.launch({
        name: `strata-builder-${image.id.slice(0, 8)}`,
        group: image.properties["strata:group"] ?? "builder",
        ...(request.parent ? { image: request.parent } : {}),
        tags: { "strata:builder": image.id },
        agent: { server: "", joinToken: "", group: image.properties["strata:group"] ?? "builder" },
      });
      created.builder = builder.id;
      // 2. Its script applies the layer and powers it off: SHUTOFF is a finished builder.
      // A recipe's own timeout runs in the script (timeout(1)); the minute on top is for its poweroff.
      const timeoutMs =
        request.layer.kind === "recipe" ? request.layer.timeoutMs + 60_000 : releaseTimeoutMs;
      await until(`builder ${builder.id} powering off`, timeoutMs, signal, async () => {
        const server = await nova.server(builder.id);
        if (!server)
          throw new StrataError("unavailable", `${prefix}: builder ${builder.id} vanished`);
        return server.status === "SHUTOFF" ? true : undefined;
      }).catch(async (err: unknown) => {
        if (err instanceof StrataError && err.code === "timeout")
          throw new ImageBuildError("timeout", err.message, await consoleOf(builder.id));
        throw err;
      });
      const output = await consoleOf(builder.id);
      const failed = output.split("\n").find((line) => line.startsWith(FAILED_MARKER));
      if (failed)
        throw new ImageBuildError(
          "hook_failed",
          `${prefix}: ${failed.slice(FAILED_MARKER.length).trim()}`,
          output,
        );
      // 3. Snapshot it; 2.45+ answers with the image id.
      const snapshot = await client.request<{ image_id: string }>(
        "compute",
        "POST",
        `/servers/${builder.id}/action`,
        { body: { createImage: { name: image.name } }, retryConflict: false },
      );
      created.snapshot = snapshot.body.image_id;
      const id = snapshot.body.image_id;
      await until(
        `snapshot ${id} of builder ${builder.id} turning active`,
        snapshotTimeoutMs,
        signal,
        async () => {
          const current = await raw(id);
          if (!current || current.status === "killed")
            throw new StrataError(
              "unavailable",
              `${prefix}: snapshot ${id} ${current ? "was killed" : "vanished"}`,
            );
          return current.status === "active" ? current : undefined;
        },
      );
      // 4. The layer's properties, then the builder and the queued stand-in go.
      // Nova copies the parent's properties onto its snapshot: the layer's own replace them.
      const properties: Record<string, string> = {
        ...image.properties,
        [STORE]: namespace,
        [CREATED]: new Date().toISOString(),
      };
      const inherited = Object.keys((await raw(id)) ?? {}).filter(
        (key) => key.startsWith("strata:") && !(key in properties),
      );
      await setProperties(id, properties, inherited);
      await nova.terminate(builder.id);
      delete created.builder;
      await remove(image.id);
      const built = await raw(id);
      if (!built) throw new StrataError("unavailable", `${prefix}: snapshot ${id} vanished`);
      return { image: imageOf(built), output: output.replace(DONE_MARKER, "").trim() };
    } catch (err) {
      const problems: string[] = [];
      if (created.snapshot)
        await remove(created.snapshot).catch((e: unknown) => problems.push(messageOf(e)));
      if (created.builder)
        await nova.terminate(created.builder).catch((e: unknown) => problems.push(messageOf(e)));
      if (problems.length && err instanceof Error)
        err.message += `; cleaning up failed too: ${problems.join("; ")}`;
      throw err;
    }
  }

  async function remove(id: string): Promise<void> {
    await client.request("image", "DELETE", `/images/${id}`, { accept: [404] });
  }

  return {
    name: "glance",

    async create(spec: ImageSpec): Promise<Image> {
      for (const [key, value] of Object.entries(spec.properties ?? {}))
        if (key.length > 255 || value.length > VALUE_LIMIT)
          throw new StrataError(
            "bad_request",
            `${prefix}: property ${key}: keys and values are at most 255 characters`,
          );
      const answer = await client.request<GlanceImage>("image", "POST", "/images", {
        body: {
          name: spec.name,
          disk_format: "raw",
          container_format: "bare",
          ...spec.properties,
          [STORE]: namespace,
          [CREATED]: new Date().toISOString(),
        },
        retryConflict: false,
      });
      return imageOf(answer.body);
    },

    async build(id, request, signal = new AbortController().signal): Promise<BuildResult> {
      const found = await raw(id);
      if (!found) throw new StrataError("not_found", `${prefix}: no image ${id}`);
      const image = imageOf(found);
      if (image.state !== "queued")
        throw new StrataError("conflict", `${prefix}: image ${id} is ${image.state}, not queued`);
      try {
        return await bake(image, request, signal);
      } catch (err) {
        await setProperties(id, { [ERROR]: messageOf(err) }).catch(() => undefined);
        throw err;
      }
    },

    async get(id) {
      const found = await raw(id);
      return found && found[STORE] === namespace ? imageOf(found) : null;
    },

    async list(properties = {}) {
      const found = await client.list<GlanceImage>("image", "/images", "images", {
        ...properties,
        [STORE]: namespace,
        sort: "created_at:desc",
      });
      // Glance's created_at has whole seconds: the store's own time orders images made in one.
      return found.map(imageOf).sort((a, b) => b.created_at.localeCompare(a.created_at));
    },

    async delete(id) {
      const found = await raw(id);
      if (!found) return;
      if (found.protected)
        throw new StrataError(
          "conflict",
          `${prefix}: image ${id} (${found.name}) is protected; unprotect it first`,
        );
      const servers = await client.list<{ id: string; name: string }>(
        "compute",
        "/servers",
        "servers",
        {
          image: id,
        },
      );
      if (servers.length > 0)
        throw new StrataError(
          "conflict",
          `${prefix}: image ${id} (${found.name}) is in use by server${servers.length > 1 ? "s" : ""} ${servers.map((s) => s.name).join(", ")}`,
        );
      await remove(id);
    },
  };
}
