import { closeSync, openSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleEntry } from "../../lib/bundle.js";
import { StrataError, fromWireError, type WireError } from "../../lib/errors.js";
import { spawnGroup } from "../../lib/process.js";
import type { Balancer, MemberSpec, PoolInfo, RequestCount } from "../balancer.js";
import { DAEMON_FILE, type DaemonInfo } from "./daemon.js";

export interface DaemonBalancerOptions {
  /** Folder of `balancer.json`, the daemon's bundle and its log (the data folder). */
  dir: string;
  /** Loopback address of the group listeners. @default "127.0.0.1" */
  host?: string;
  /** Receives each finished minute of a group's request counts. */
  onCounts?: (counts: RequestCount) => void;
  /** How often finished minutes are collected from the daemon. @default 2000 */
  pollMs?: number;
  /** Longest wait for a new daemon to answer. @default 15000 */
  startTimeoutMs?: number;
}

const ENTRY = fileURLToPath(new URL("./daemon-main.ts", import.meta.url));

/**
 * The Balancer of the control plane when the built-in load balancer runs as
 * its own process: reattaches to a running daemon (after a control-plane
 * restart nothing stops serving) or starts one.
 */
export interface DaemonBalancer extends Balancer {
  /** Requests per group and status class (`2xx`...) since the daemon started. */
  totals(): Promise<Record<string, Record<string, number>>>;
}

export async function createDaemonBalancer(
  options: DaemonBalancerOptions,
): Promise<DaemonBalancer> {
  const host = options.host ?? "127.0.0.1";
  await mkdir(options.dir, { recursive: true });
  const info = (await reachable(options.dir)) ?? (await start(options.dir, host, options));
  const base = `http://${info.control}`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${info.token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new StrataError("unavailable", `[balancer] daemon at ${info.control}: ${String(err)}`, {
        cause: err,
      });
    }
    const json = (await res.json()) as T & { error?: WireError };
    if (!res.ok)
      throw fromWireError(json.error ?? { code: "internal", message: String(res.status) });
    return json;
  };

  let after = 0;
  let polling: Promise<void> = Promise.resolve();
  const collect = () =>
    (polling = polling.then(async () => {
      const { counts } = await call<{ counts: (RequestCount & { seq: number })[] }>(
        "GET",
        `/counts?after=${after}`,
      ).catch(() => ({ counts: [] }));
      for (const { seq, ...minute } of counts) {
        after = Math.max(after, seq);
        options.onCounts?.(minute);
      }
    }));
  const poller = setInterval(() => void collect(), options.pollMs ?? 2000);
  poller.unref();

  const enc = encodeURIComponent;
  return {
    totals: async () =>
      (await call<{ totals: Record<string, Record<string, number>> }>("GET", "/totals")).totals,
    ensurePool: (group, poolOptions = {}) =>
      call<PoolInfo>("PUT", `/pools/${enc(group)}`, { port: poolOptions.port ?? 0 }),
    removePool: async (group) => void (await call("DELETE", `/pools/${enc(group)}`)),
    addMember: async (group, member) =>
      void (await call("PUT", `/pools/${enc(group)}/members/${enc(member.id)}`, {
        address: member.address,
        port: member.port,
      })),
    removeMember: async (group, id, removeOptions = {}) =>
      void (await call(
        "DELETE",
        `/pools/${enc(group)}/members/${enc(id)}?drain_ms=${removeOptions.drainMs ?? 10_000}`,
      ).catch((err: StrataError) => {
        if (err.code !== "not_found") throw err;
      })),
    members: async (group) =>
      (
        await call<{ members: MemberSpec[] }>("GET", `/pools/${enc(group)}/members`).catch(
          (err: StrataError) => {
            if (err.code === "not_found") return { members: [] };
            throw err;
          },
        )
      ).members,
    async close(closeOptions = {}) {
      clearInterval(poller);
      // Stopping: the minute in progress is reported now; otherwise the next control plane collects it.
      if (closeOptions.stopDataPlane) await call("POST", "/flush").catch(() => undefined);
      await collect();
      if (closeOptions.stopDataPlane) {
        await call("POST", "/shutdown").catch(() => undefined);
        await waitForExit(info.pid);
      }
    },
  };
}

/** The daemon named in balancer.json, if it answers. */
async function reachable(dir: string): Promise<DaemonInfo | null> {
  let info: DaemonInfo;
  try {
    info = JSON.parse(await readFile(join(dir, DAEMON_FILE), "utf8")) as DaemonInfo;
  } catch {
    return null;
  }
  try {
    const res = await fetch(`http://${info.control}/health`, {
      headers: { authorization: `Bearer ${info.token}` },
      signal: AbortSignal.timeout(2000),
    });
    const body = (await res.json()) as { pid?: number };
    return res.ok && body.pid === info.pid ? info : null;
  } catch {
    return null;
  }
}

async function start(
  dir: string,
  host: string,
  options: DaemonBalancerOptions,
): Promise<DaemonInfo> {
  const { argv } = await bundleEntry(ENTRY, join(dir, "strata-balancer.mjs"));
  const log = openSync(join(dir, "balancer.log"), "a");
  const child = spawnGroup([...argv, "--dir", dir, "--host", host], {
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    const info = await reachable(dir);
    if (info && info.pid === child.pid) return info;
    if (child.exitCode !== null)
      throw new StrataError(
        "unavailable",
        `[balancer] the daemon exited (see ${dir}/balancer.log)`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new StrataError(
    "timeout",
    `[balancer] the daemon did not answer (see ${dir}/balancer.log)`,
  );
}

async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
