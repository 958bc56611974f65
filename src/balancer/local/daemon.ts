import { randomBytes } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { z } from "zod";
import { sameSecret } from "../../fleet/tokens.js";
import { StrataError, toWireError } from "../../lib/errors.js";
import { groupName, ipAddress, port, serverName } from "../../wire/names.js";
import type { RequestCount } from "../balancer.js";
import { createLocalBalancer } from "./local-balancer.js";

/** Where a running daemon says how to reach it (0600: it holds the control token). */
export const DAEMON_FILE = "balancer.json";

export interface DaemonInfo {
  pid: number;
  /** `host:port` of the control API. */
  control: string;
  token: string;
}

export interface BalancerDaemonOptions {
  /** Folder of `balancer.json` (the control plane's data folder). */
  dir: string;
  /** Loopback address of the group listeners and of the control API. */
  host: string;
  signal: AbortSignal;
}

/** Minutes of counts kept for a control plane that is away (a day of one group). */
const MAX_QUEUED_COUNTS = 24 * 60 * 50;

const PoolBody = z.strictObject({ port: z.int().min(0).max(65_535).optional() });
const MemberBody = z.strictObject({ address: ipAddress, port });

/**
 * The built-in load balancer as a process of its own, so the data plane keeps
 * serving while the control plane is down or restarting: group listeners,
 * members and in-flight drains live here, and the control plane drives them
 * through a small authenticated HTTP API on loopback
 * (`daemon-client.ts`). Counts wait in a queue until the control plane takes them.
 */
export async function runBalancerDaemon(options: BalancerDaemonOptions): Promise<void> {
  const token = randomBytes(24).toString("base64url");
  const queue: (RequestCount & { seq: number })[] = [];
  let seq = 0;
  /** Requests per group and status class since the daemon started (for /metrics). */
  const totals: Record<string, Record<string, number>> = {};
  const balancer = createLocalBalancer({
    host: options.host,
    onRequest: (group, status) => {
      const byClass = (totals[group] ??= {});
      const cls = `${Math.floor(status / 100)}xx`;
      byClass[cls] = (byClass[cls] ?? 0) + 1;
    },
    onCounts: (counts) => {
      queue.push({ ...counts, seq: ++seq });
      if (queue.length > MAX_QUEUED_COUNTS) queue.shift();
    },
  });

  const route = async (req: http.IncomingMessage, url: URL): Promise<unknown> => {
    const parts = url.pathname.split("/").filter(Boolean);
    const body = async <S extends z.ZodType>(schema: S): Promise<z.infer<S>> => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > 4096) throw new StrataError("too_large", "[balancer] body too large");
        chunks.push(chunk as Buffer);
      }
      const parsed = schema.safeParse(JSON.parse(Buffer.concat(chunks).toString() || "{}"));
      if (!parsed.success)
        throw new StrataError("bad_request", `[balancer] ${parsed.error.message}`);
      return parsed.data;
    };
    const group = () => {
      const name = parts[1] ?? "";
      if (!groupName.safeParse(name).success)
        throw new StrataError("bad_request", "[balancer] group");
      return name;
    };
    const member = () => {
      const id = parts[3] ?? "";
      if (!serverName.safeParse(id).success)
        throw new StrataError("bad_request", "[balancer] member");
      return id;
    };
    if (req.method === "GET" && url.pathname === "/health") return { ok: true, pid: process.pid };
    if (req.method === "GET" && url.pathname === "/counts") {
      const after = Number(url.searchParams.get("after") ?? "0");
      while (queue.length > 0 && queue[0]!.seq <= after) queue.shift();
      return { counts: queue };
    }
    if (req.method === "GET" && url.pathname === "/totals") return { totals };
    if (req.method === "POST" && url.pathname === "/flush") {
      balancer.flush();
      return { ok: true };
    }
    if (req.method === "POST" && url.pathname === "/shutdown") {
      setImmediate(() => shutdown());
      return { ok: true };
    }
    if (parts[0] === "pools" && parts.length === 2 && req.method === "DELETE") {
      await balancer.removePool(group());
      return { ok: true };
    }
    if (parts[0] === "pools" && parts.length === 2 && req.method === "PUT") {
      const { port: wish } = await body(PoolBody);
      return balancer.ensurePool(group(), { port: wish ?? 0 });
    }
    if (
      parts[0] === "pools" &&
      parts[2] === "members" &&
      parts.length === 3 &&
      req.method === "GET"
    ) {
      return { members: await balancer.members(group()) };
    }
    if (parts[0] === "pools" && parts[2] === "members" && parts.length === 4) {
      if (req.method === "PUT") {
        const spec = await body(MemberBody);
        await balancer.addMember(group(), { id: member(), ...spec });
        return { ok: true };
      }
      if (req.method === "DELETE") {
        const drainMs = Number(url.searchParams.get("drain_ms") ?? "10000");
        await balancer.removeMember(group(), member(), {
          drainMs: Number.isFinite(drainMs) ? drainMs : 10_000,
        });
        return { ok: true };
      }
    }
    throw new StrataError("not_found", `[balancer] no route ${req.method} ${url.pathname}`);
  };

  const control = http.createServer((req, res) => {
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const reply = (status: number, value: unknown) =>
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (!auth || !sameSecret(auth, token))
      return reply(401, { error: { code: "unauthorized", message: "[balancer] bad token" } });
    route(req, new URL(req.url ?? "/", "http://daemon")).then(
      (value) => reply(200, value),
      (err: unknown) => {
        const wire = toWireError(err);
        reply(wire.code === "not_found" ? 404 : wire.code === "internal" ? 500 : 400, {
          error: wire,
        });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    control.once("error", reject);
    control.listen(0, options.host, () => resolve());
  });
  const { port: controlPort } = control.address() as AddressInfo;
  const info: DaemonInfo = { pid: process.pid, control: `${options.host}:${controlPort}`, token };
  const file = join(options.dir, DAEMON_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(info), { mode: 0o600 });
  await rename(`${file}.tmp`, file);

  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  let closing = false;
  const shutdown = () => {
    if (closing) return;
    closing = true;
    control.closeAllConnections();
    control.close();
    void balancer.close().then(() => stopped());
  };
  options.signal.addEventListener("abort", shutdown, { once: true });
  await done;
}
