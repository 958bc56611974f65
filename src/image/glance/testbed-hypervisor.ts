import { randomBytes } from "node:crypto";
import type { OpenStackClient } from "../../lib/openstack/client.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface NovaServer {
  id: string;
  status: string;
  image: { id: string } | "";
  metadata: Record<string, string>;
  "OS-EXT-STS:task_state": string | null;
}
export interface GlanceImage {
  id: string;
  status: string;
  size: number | null;
  instance_uuid?: string;
}

/**
 * Stands in for what the testbed's fake hypervisor (nova.virt.fake) does not
 * do, and only that: it runs no user data, so the builder's script never
 * powers the builder off (this stops it, as the script's `poweroff` would),
 * and its snapshot never uploads (this uploads bytes to the queued snapshot
 * through Glance's API, as the hypervisor would: the parent's size plus 64
 * KiB, a layer on its parent's disk). strata's side runs unchanged.
 */
export function hypervisorStandIn(
  openstack: OpenStackClient,
  /** Only builders of this store namespace's images: other test processes may bake at once. */
  namespace: string,
  options: { upload?: boolean } = {},
): { stop: () => Promise<void> } {
  let running = true;
  const uploaded = new Set<string>();
  const ours = new Map<string, boolean>();
  const isOurs = async (imageId: string) => {
    let known = ours.get(imageId);
    if (known === undefined) {
      const image = await openstack.request<Record<string, unknown>>(
        "image",
        "GET",
        `/images/${imageId}`,
        {
          accept: [404],
        },
      );
      known = image.status === 200 && image.body["strata:store"] === namespace;
      ours.set(imageId, known);
    }
    return known;
  };
  const duty = async () => {
    const builders: NovaServer[] = [];
    for (const server of await openstack.list<NovaServer>("compute", "/servers/detail", "servers", {
      tags: "strata",
    })) {
      const image = server.metadata["strata:builder"];
      if (image && (await isOurs(image))) builders.push(server);
    }
    for (const builder of builders) {
      if (builder.status === "ACTIVE" && !builder["OS-EXT-STS:task_state"])
        await openstack.request("compute", "POST", `/servers/${builder.id}/action`, {
          body: { "os-stop": null },
          accept: [404, 409],
          retryConflict: false,
        });
    }
    if (options.upload === false) return;
    const ids = new Set(builders.map((b) => b.id));
    const queued = await openstack.list<GlanceImage>("image", "/images", "images", {
      status: "queued",
    });
    for (const snapshot of queued) {
      if (!snapshot.instance_uuid || !ids.has(snapshot.instance_uuid) || uploaded.has(snapshot.id))
        continue;
      const builder = builders.find((b) => b.id === snapshot.instance_uuid)!;
      const parent = builder.image
        ? await openstack.request<GlanceImage>("image", "GET", `/images/${builder.image.id}`)
        : null;
      uploaded.add(snapshot.id);
      // What libvirt's snapshot upload sets along with the data.
      await openstack.request("image", "PATCH", `/images/${snapshot.id}`, {
        raw: Buffer.from(
          JSON.stringify([
            { op: "add", path: "/disk_format", value: "raw" },
            { op: "add", path: "/container_format", value: "bare" },
          ]),
        ),
        contentType: "application/openstack-images-v2.1-json-patch",
      });
      await openstack.request("image", "PUT", `/images/${snapshot.id}/file`, {
        raw: randomBytes((parent?.body.size ?? 0) + 65_536),
        contentType: "application/octet-stream",
        accept: [404, 409],
      });
    }
  };
  const loop = (async () => {
    while (running) {
      // Shown in the test's output; the next round tries again.
      await duty().catch((err: unknown) =>
        console.error(`[test] hypervisor stand-in: ${String(err)}`),
      );
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
