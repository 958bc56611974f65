import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { openSync, closeSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../../lib/errors.js";
import { spawnGroup, stopGroup } from "../../lib/process.js";
import { strataCommand } from "../../lib/self.js";
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
  /** Lets an image id become a server root before the agent starts (issue: golden images). */
  prepareRoot?: (image: string, root: string) => Promise<void>;
  /** Extra environment for agents (e.g. a faster heartbeat in tests). */
  env?: Record<string, string>;
  /** Grace period for an agent to stop its app on terminate. @default 15000 */
  stopTimeoutMs?: number;
}

const RESTART_DELAY_MS = 1000;

interface Entry extends Instance {
  agent: LaunchSpec["agent"];
}

/** Servers as local processes: each an agent process with its own root folder and loopback address. */
export function createLocalProvider(options: LocalProviderOptions): Provider {
  const prefix = options.addressPrefix ?? "127.0.0";
  let agentCommand: Promise<string[]> | null = null;
  const command = () =>
    (agentCommand ??= options.agentCommand
      ? Promise.resolve(options.agentCommand)
      : bundleAgent(options.dir).catch((err) => {
          console.error(`[provider] local: cannot bundle the agent, using strata agent: ${err}`);
          return [...strataCommand(), "agent"];
        }));
  const stopTimeoutMs = options.stopTimeoutMs ?? 15_000;
  const listFile = join(options.dir, "instances.json");
  const processes = new Map<string, ChildProcess>();
  let entries: Entry[] | null = null;
  let saving = Promise.resolve();
  let closing = false;

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
      await writeFile(tmp, JSON.stringify(entries, null, 2));
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

  function startAgent(entry: Entry, argv: string[]): void {
    const log = openSync(join(entry.root!, "agent.log"), "a");
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
        stdio: ["ignore", log, log],
        env: {
          ...process.env,
          ...options.env,
          STRATA_JOIN_TOKEN: entry.agent.joinToken,
          STRATA_EXIT_WITH_PARENT: "1",
        },
      },
    );
    closeSync(log);
    processes.set(entry.id, child);
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
  }

  function view(entry: Entry): Instance {
    const { agent: _agent, ...instance } = entry;
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
        if (spec.image) {
          if (!options.prepareRoot) {
            throw new StrataError("bad_request", "[provider] local: images are not enabled");
          }
          await options.prepareRoot(spec.image, root);
        }
        startAgent(entry, await command());
        entry.state = "active";
      } catch (err) {
        // A failed launch leaves nothing behind, as a cloud provider deletes a server that failed.
        entry.state = "deleted";
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
      await save();
      if (entry.root) await rm(entry.root, { recursive: true, force: true });
    },
    async resume() {
      for (const entry of await load()) {
        if (entry.state === "active" && !processes.has(entry.id))
          startAgent(entry, await command());
      }
    },
    async close() {
      closing = true;
      await Promise.all([...processes.values()].map((child) => stopGroup(child, stopTimeoutMs)));
      processes.clear();
      await saving;
    },
  };
}
