import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenStackClient } from "../../lib/openstack/client.js";
import { cloneTree } from "../tree.js";

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

/** Where the testbed's compute driver reads a server's console from (scripts/openstack-testbed/strata_console.py). */
export const TESTBED_CONSOLE_DIR = join(
  process.env.S ?? "/tmp/strata-openstack-testbed",
  "console",
);

export interface StandInOptions {
  /** Upload bytes to a builder's queued snapshot. @default true */
  upload?: boolean;
  /**
   * Run a release layer's builder script as cloud-init would (as root, its
   * console output to the server's console), confined: only a script whose
   * server root is `root` (a temporary folder: the store's `builder.root`)
   * runs, in a private mount namespace where /dev/console is the file the
   * testbed's compute driver shows as the console, and `poweroff` a no-op
   * (the stand-in stops the server after). Recipe layers never run: they
   * copy files into `/` and run provision.sh there, which this machine must
   * not take; their builders are only stopped, their console the fake's text.
   * `admin` reads the user data (Nova shows `OS-EXT-SRV-ATTR:user_data` to admins).
   */
  run?: { admin: OpenStackClient; root: string };
  /**
   * Boot fleet servers too: run the user data of a server whose agent joins
   * `server` (the control plane's URL in the script) as cloud-init would, as
   * root, in a private mount and pid namespace on an overlay of `/` (every
   * write outside the server root lands in a temporary upper layer), with the
   * script's server root bound to `<roots>/<server name>` and `hostname -I`
   * answering `address(name)`, a loopback address. The agent it starts runs
   * until the server is deleted or the stand-in stops (the namespace is
   * killed). The server root starts as the image left it: a copy of the
   * root the builder of the server's image ran its script in (hard links
   * kept, as a disk snapshot keeps them), else empty, as on a base image.
   */
  agents?: {
    admin: OpenStackClient;
    server: string;
    roots: string;
    address: (name: string) => string;
  };
}

/**
 * Stands in for what the testbed's fake hypervisor (nova.virt.fake) does not
 * do, and only that: it runs no user data, so the builder's script never
 * powers the builder off (this stops it, as the script's `poweroff` would;
 * with `run`, a release layer's script runs first), and its snapshot never
 * uploads (this uploads bytes to the queued snapshot through Glance's API,
 * as the hypervisor would: the parent's size plus 64 KiB, a layer on its
 * parent's disk). With `run`, each release builder's script starts on an
 * empty root (its parent, a base image, has no server root), and what it
 * left there is kept as the snapshot's content, for `agents` booting from
 * it. strata's side runs unchanged.
 */
export function hypervisorStandIn(
  openstack: OpenStackClient,
  /** Only builders of this store namespace's images: other test processes may bake at once. */
  namespace: string,
  options: StandInOptions = {},
): { stop: () => Promise<void>; ran: string[] } {
  const booted = new Map<string, { stop: () => Promise<void> }>();
  let running = true;
  /** Roots the release builders left (builder id -> folder), and the snapshots' (image id -> folder). */
  const contents = mkdtemp(join(tmpdir(), "strata-standin-disks-"));
  const builderRoots = new Map<string, string>();
  const imageRoots = new Map<string, string>();
  const uploaded = new Set<string>();
  const ran = new Set<string>();
  /** The scripts run, in order. */
  const scripts: string[] = [];
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
    const all = await openstack.list<NovaServer & { name: string }>(
      "compute",
      "/servers/detail",
      "servers",
      { tags: "strata" },
    );
    for (const server of all) {
      const image = server.metadata["strata:builder"];
      if (image && (await isOurs(image))) builders.push(server);
    }
    if (options.agents) {
      const agents = options.agents;
      for (const server of all) {
        if (
          server.metadata["strata:builder"] ||
          booted.has(server.id) ||
          server.status !== "ACTIVE"
        )
          continue;
        booted.set(server.id, { stop: async () => undefined });
        const disk = server.image ? imageRoots.get(server.image.id) : undefined;
        const started = await bootAgent(agents, server.id, server.name, disk);
        if (started) booted.set(server.id, started);
      }
      const live = new Set(all.filter((s) => s.status !== "DELETED").map((s) => s.id));
      for (const [id, agent] of booted)
        if (!live.has(id)) {
          booted.delete(id);
          await agent.stop();
        }
    }
    for (const builder of builders) {
      if (builder.status === "ACTIVE" && !builder["OS-EXT-STS:task_state"]) {
        if (options.run && !ran.has(builder.id)) {
          ran.add(builder.id);
          const disk = join(await contents, builder.id);
          const script = await runUserData(options.run, builder.id, disk);
          if (script) {
            scripts.push(script);
            builderRoots.set(builder.id, disk);
          }
        }
        await openstack.request("compute", "POST", `/servers/${builder.id}/action`, {
          body: { "os-stop": null },
          accept: [404, 409],
          retryConflict: false,
        });
      }
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
      const disk = builderRoots.get(builder.id);
      if (disk) imageRoots.set(snapshot.id, disk);
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
    ran: scripts,
    stop: async () => {
      running = false;
      await loop;
      for (const agent of booted.values()) await agent.stop();
      await rm(await contents, { recursive: true, force: true });
    },
  };
}

/** Runs a release builder's script on an empty `run.root`, then copies what it left to `disk`. */
async function runUserData(run: NonNullable<StandInOptions["run"]>, server: string, disk: string) {
  const answer = await run.admin.request<{ server: Record<string, unknown> }>(
    "compute",
    "GET",
    `/servers/${server}`,
  );
  const encoded = answer.body.server["OS-EXT-SRV-ATTR:user_data"];
  if (typeof encoded !== "string") return null;
  const script = Buffer.from(encoded, "base64").toString();
  if (!script.includes("# strata: bake a release layer") || !script.includes(`'${run.root}/`))
    return null;
  await mkdir(TESTBED_CONSOLE_DIR, { recursive: true });
  await mkdir(run.root, { recursive: true });
  for (const entry of await readdir(run.root))
    await rm(join(run.root, entry), { recursive: true, force: true });
  await runConfined(script, join(TESTBED_CONSOLE_DIR, server));
  await cloneTree(run.root, disk, { gnuCp: true });
  return script;
}

/**
 * Runs a builder script as root with /dev/console bound to `consoleFile` in
 * a private mount namespace (unshare(1)) and `poweroff` a no-op. Resolves
 * with its exit code once it ended.
 */
export async function runConfined(script: string, consoleFile: string): Promise<number | null> {
  const work = await mkdtemp(join(tmpdir(), "strata-standin-"));
  try {
    await writeFile(join(work, "user-data"), script);
    await writeFile(join(work, "poweroff"), "#!/bin/sh\nexit 0\n");
    await chmod(join(work, "poweroff"), 0o755);
    await writeFile(consoleFile, "");
    const child = spawn(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        'mount --bind "$1" /dev/console && PATH="$2:$PATH" exec sh "$3"',
        "confined",
        consoleFile,
        work,
        join(work, "user-data"),
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    return await new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => resolve(code));
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Starts a fleet server's user data confined (StandInOptions.agents), its
 * server root a copy of `disk` when given; null when it is not ours.
 */
async function bootAgent(
  agents: NonNullable<StandInOptions["agents"]>,
  server: string,
  name: string,
  disk: string | undefined,
): Promise<{ stop: () => Promise<void> } | null> {
  const answer = await agents.admin.request<{ server: Record<string, unknown> }>(
    "compute",
    "GET",
    `/servers/${server}`,
  );
  const encoded = answer.body.server["OS-EXT-SRV-ATTR:user_data"];
  if (typeof encoded !== "string") return null;
  const script = Buffer.from(encoded, "base64").toString();
  if (!script.includes(`STRATA_SERVER='${agents.server}'`)) return null;
  const root = /--root '([^']+)'/.exec(script)?.[1];
  if (!root) return null;
  const work = await mkdtemp(join(tmpdir(), "strata-standin-boot-"));
  const mine = join(agents.roots, name);
  for (const dir of ["up/strata-stubs", "work", "merged"])
    await mkdir(join(work, dir), { recursive: true });
  // 0711: the agent runs its app as an unprivileged account that must reach the root.
  await mkdir(mine, { recursive: true, mode: 0o711 });
  await chmod(agents.roots, 0o711);
  if (disk) await cloneTree(disk, mine, { gnuCp: true });
  await writeFile(join(work, "up", "strata-user-data"), script);
  await writeFile(
    join(work, "up", "strata-stubs", "hostname"),
    `#!/bin/sh\necho ${agents.address(name)}\n`,
  );
  await chmod(join(work, "up", "strata-stubs", "hostname"), 0o755);
  const merged = join(work, "merged");
  const setup = [
    `mount -t overlay overlay -o lowerdir=/,upperdir=${work}/up,workdir=${work}/work ${merged}`,
    `mount -t proc proc ${merged}/proc`,
    `mount --rbind /dev ${merged}/dev`,
    `mount --rbind /sys ${merged}/sys`,
    `mkdir -p ${merged}${root}`,
    `mount --bind ${mine} ${merged}${root}`,
    `chroot ${merged} env PATH=/strata-stubs:$PATH sh /strata-user-data`,
    "exec sleep infinity",
  ].join(" && ");
  const child = spawn(
    "unshare",
    ["--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "sh", "-c", setup],
    { stdio: ["ignore", "inherit", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    stop: async () => {
      child.kill("SIGKILL");
      await exited;
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
