import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { StrataError } from "../../lib/errors.js";
import { killGroup, processAlive, spawnGroup, stopGroup } from "../../lib/process.js";
import { strataCommand } from "../../lib/self.js";
import type { RunAs } from "../../lib/app-user.js";
import { systemClock } from "../../lib/clock.js";
import { ROOT_READY_FD_ENV, appUserOf } from "../../runtime/agent-flags.js";
import { startAtBoot, stopBootApp } from "../../runtime/boot-start.js";
import { appAccount } from "../../runtime/open-root.js";
import { bundleAgent } from "./agent-bundle.js";
import type { Instance, LaunchSpec, Provider } from "../provider.js";

export interface LocalProviderOptions {
  /** Folder holding one root folder per server and the instance list. */
  dir: string;
  /**
   * First three octets of the loopback addresses handed out; servers get
   * `<prefix>.2` upwards, never one a live server holds.
   * @default "127.0.0"
   */
  addressPrefix?: string;
  /**
   * argv that starts `strata agent` (flags are appended).
   * @default the agent bundled from the sources into `dir` (fast to start), or `strata agent` under tsx if bundling fails
   */
  agentCommand?: string[];
  /**
   * Lets an image id become a server root before the agent starts (issue:
   * golden images). `shareBlobs`: the server's apps run as an account of
   * their own, so the image's read-only blobs may be shared by hard link.
   */
  prepareRoot?: (image: string, root: string, how: { shareBlobs: boolean }) => Promise<void>;
  /** Extra environment for agents (e.g. a faster heartbeat in tests). */
  env?: Record<string, string>;
  /** Grace period for an agent to stop its app on terminate. @default 15000 */
  stopTimeoutMs?: number;
  /**
   * Whether a server launched from an image starts its app as it boots,
   * before its agent has loaded (the agent adopts it), as the image's own
   * unit would on a VM. @default true
   */
  bootApp?: boolean;
}

const RESTART_DELAY_MS = 1000;

interface Entry extends Instance {
  agent: LaunchSpec["agent"];
  /** Pid of the agent's process group leader, so a restarted control plane finds it again. */
  pid?: number;
}

/** Servers as local processes: each an agent process with its own root folder and loopback address. */
export function createLocalProvider(options: LocalProviderOptions): Provider {
  const prefix = options.addressPrefix ?? "127.0.0";
  let agentCommand: Promise<string[]> | null = null;
  const command = () =>
    (agentCommand ??= options.agentCommand
      ? Promise.resolve(options.agentCommand)
      : bundleAgent(options.dir).then(
          (bundle) => bundle.argv,
          (err) => {
            console.error(`[provider] local: cannot bundle the agent, using strata agent: ${err}`);
            return [...strataCommand(), "agent"];
          },
        ));
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const listFile = join(options.dir, "instances.json");
  const processes = new Map<string, ChildProcess>();
  /** Agents started by an earlier control plane, still running: watched by polling, not by 'exit'. */
  const adopted = new Map<string, { pid: number; watch: NodeJS.Timeout }>();
  let entries: Entry[] | null = null;
  let saving = Promise.resolve();
  let closing = false;
  /** The account apps run as, for the servers' boots (bootApp). */
  let bootAccount: Promise<RunAs | undefined> | null = null;

  let loading: Promise<Entry[]> | null = null;
  /** One read shared by concurrent first callers: each reading its own copy lost launches. */
  function load(): Promise<Entry[]> {
    if (entries) return Promise.resolve(entries);
    loading ??= readFile(listFile, "utf8")
      .then(
        (text) => JSON.parse(text) as Entry[],
        (err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
          return [];
        },
      )
      .then((list) => (entries = list))
      .finally(() => (loading = null));
    return loading;
  }

  function save(): Promise<void> {
    saving = saving.then(async () => {
      await mkdir(options.dir, { recursive: true });
      const tmp = `${listFile}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(entries, null, 2), { mode: 0o600 }); // join tokens
      await rename(tmp, listFile);
    });
    return saving;
  }

  function allocateAddress(list: Entry[]): string {
    const used = new Set(list.filter((e) => e.state !== "deleted").map((e) => e.address));
    for (let host = 2; host < 255; host++) {
      const address = `${prefix}.${host}`;
      if (!used.has(address)) return address;
    }
    throw new StrataError(
      "unavailable",
      `[provider] local: no free address left in ${prefix}.0/24`,
    );
  }

  /**
   * Starts the agent of `entry`. With `rootReady`, the agent waits (before it
   * opens its root) for `ready` on the pipe returned, written once the root is
   * complete.
   */
  function startAgent(entry: Entry, argv: string[], rootReady = false): Writable | null {
    const log = openSync(join(entry.root!, "agent.log"), "a", 0o600);
    const child = spawnGroup(
      [
        ...argv,
        "--server",
        entry.agent.server,
        "--group",
        entry.agent.group,
        "--root",
        entry.root!,
        "--address",
        entry.address,
        "--name",
        entry.name,
      ],
      {
        stdio: rootReady ? ["ignore", log, log, "pipe"] : ["ignore", log, log],
        // The agent outlives the control plane, as on a VM: the data plane keeps serving while it restarts.
        env: {
          ...process.env,
          ...options.env,
          ...(rootReady ? { [ROOT_READY_FD_ENV]: "3" } : {}),
          STRATA_JOIN_TOKEN: entry.agent.joinToken,
          ...(entry.agent.ca ? { STRATA_CA: entry.agent.ca } : {}),
        },
      },
    );
    closeSync(log);
    child.unref();
    processes.set(entry.id, child);
    entry.pid = child.pid;
    void save();
    child.once("exit", () => {
      if (processes.get(entry.id) !== child) return;
      processes.delete(entry.id);
      // A crashed agent comes back, as systemd would restart it on a VM.
      if (!closing && entry.state === "active") {
        setTimeout(() => {
          if (!closing && entry.state === "active" && !processes.has(entry.id)) {
            startAgent(entry, argv);
          }
        }, RESTART_DELAY_MS).unref();
      }
    });
    const ready = rootReady ? (child.stdio[3] as Writable) : null;
    ready?.on("error", () => undefined); // the agent died meanwhile: its exit is handled above
    return ready;
  }

  /** Watches an agent a previous control plane started; starts a new one when it dies. */
  function adopt(entry: Entry, pid: number, argv: string[]): void {
    const watch = setInterval(() => {
      if (processAlive(pid)) return;
      clearInterval(watch);
      adopted.delete(entry.id);
      if (!closing && entry.state === "active") startAgent(entry, argv);
    }, RESTART_DELAY_MS);
    watch.unref();
    adopted.set(entry.id, { pid, watch });
  }

  /**
   * The account the agent's apps will run as (undefined: the agent's own),
   * found as the agent finds it; null where that failed (the agent will say
   * why). Every root sits in options.dir: the account found (and the reach
   * checked) for the first holds for all.
   */
  async function account(entry: Entry, argv: string[]): Promise<RunAs | undefined | null> {
    bootAccount ??= (() => {
      const flag = argv.indexOf("--app-user");
      const env = { ...process.env, ...options.env };
      const { appUser } = appUserOf(flag >= 0 ? argv[flag + 1] : env.STRATA_APP_USER);
      return appAccount(entry.root!, appUser, systemClock, () => undefined);
    })();
    try {
      return await bootAccount;
    } catch (err) {
      bootAccount = null;
      console.error(`[provider] local: ${entry.name}: the app's account: ${err}`);
      return null;
    }
  }

  /**
   * The server's boot: starts the app its root holds (boot-start.ts) as the
   * agent would, for the agent to adopt. A failure only leaves it to the agent.
   */
  async function bootApp(entry: Entry, runAs: RunAs | undefined): Promise<void> {
    if (options.bootApp === false) return;
    try {
      await chmod(entry.root!, 0o711); // as the agent's openRoot does: the app passes through
      await startAtBoot({
        root: entry.root!,
        address: entry.address,
        env: { ...process.env, ...options.env },
        ...(runAs && { runAs }),
      });
    } catch (err) {
      console.error(`[provider] local: ${entry.name}: the boot did not start the app: ${err}`);
    }
  }

  function view(entry: Entry): Instance {
    const { agent: _agent, pid: _pid, ...instance } = entry;
    return { ...instance, tags: { ...instance.tags } };
  }

  return {
    name: "local",
    async launch(spec) {
      const list = await load();
      if (list.some((e) => e.name === spec.name && e.state !== "deleted")) {
        throw new StrataError("conflict", `[provider] local: a server named ${spec.name} exists`);
      }
      const root = join(options.dir, spec.name);
      const entry: Entry = {
        id: randomUUID(),
        name: spec.name,
        state: "building",
        address: allocateAddress(list),
        tags: { ...spec.tags, group: spec.group },
        image: spec.image ?? null,
        created_at: new Date().toISOString(),
        root,
        agent: spec.agent,
      };
      list.push(entry);
      await save();
      try {
        await rm(root, { recursive: true, force: true });
        await mkdir(root, { recursive: true });
        await chmod(options.dir, 0o711); // apps pass through to their root; the list stays private
        if (spec.image) {
          if (!options.prepareRoot) {
            throw new StrataError("bad_request", "[provider] local: images are not enabled");
          }
          // The agent's process starts while the image is cloned (each takes about as long);
          // the app starts from the image's root as soon as it is there, before the agent has loaded.
          const argv = await command();
          const ready = startAgent(entry, argv, true)!;
          const runAs = await account(entry, argv);
          await options.prepareRoot(spec.image, root, { shareBlobs: Boolean(runAs) });
          if (runAs !== null) await bootApp(entry, runAs);
          ready.end("ready\n");
        } else {
          startAgent(entry, await command());
        }
        entry.state = "active";
      } catch (err) {
        // A failed launch leaves nothing behind, as a cloud provider deletes a server that failed.
        entry.state = "deleted";
        const child = processes.get(entry.id);
        if (child) await stopGroup(child, stopTimeoutMs);
        await stopBootApp(root);
        await save();
        await rm(root, { recursive: true, force: true });
        throw err;
      }
      await save();
      return view(entry);
    },
    async get(id) {
      const entry = (await load()).find((e) => e.id === id && e.state !== "deleted");
      return entry ? view(entry) : null;
    },
    async list(tags = {}) {
      return (await load())
        .filter((e) => e.state !== "deleted")
        .filter((e) => Object.entries(tags).every(([k, v]) => e.tags[k] === v))
        .map(view);
    },
    async terminate(id) {
      const entry = (await load()).find((e) => e.id === id);
      if (!entry || entry.state === "deleted") return;
      entry.state = "deleted";
      const child = processes.get(id);
      if (child) await stopGroup(child, stopTimeoutMs);
      const other = adopted.get(id);
      if (other) {
        clearInterval(other.watch);
        adopted.delete(id);
        await stopPid(other.pid, stopTimeoutMs);
      }
      // An app the boot started and no agent adopted yet (the agent stops the app it adopted).
      if (entry.root) await stopBootApp(entry.root);
      await save();
      if (entry.root) await rm(entry.root, { recursive: true, force: true });
    },
    async resume() {
      for (const entry of await load()) {
        if (entry.state !== "active" || processes.has(entry.id) || adopted.has(entry.id)) continue;
        if (entry.pid && isAgentOf(entry.pid, entry.root!))
          adopt(entry, entry.pid, await command());
        else startAgent(entry, await command());
      }
    },
    async close(closeOptions = {}) {
      closing = true;
      for (const { watch } of adopted.values()) clearInterval(watch);
      if (closeOptions.stopServers) {
        await Promise.all([
          ...[...processes.values()].map((child) => stopGroup(child, stopTimeoutMs)),
          ...[...adopted.values()].map(({ pid }) => stopPid(pid, stopTimeoutMs)),
        ]);
        for (const entry of entries ?? []) if (entry.root) await stopBootApp(entry.root);
      }
      processes.clear();
      adopted.clear();
      await saving;
    },
  };
}

/** Whether `pid` is still the agent of `root` (a pid may be reused by an unrelated process). */
function isAgentOf(pid: number, root: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return args.includes("--root") && args[args.indexOf("--root") + 1] === root;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the leader is gone. */
async function stopPid(pid: number, graceMs: number): Promise<void> {
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) killGroup(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
}
