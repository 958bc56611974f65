import http from "node:http";
import type { AddressInfo } from "node:net";
import { StrataError } from "../../lib/errors.js";
import type { Balancer, MemberSpec, PoolInfo, RequestCount } from "../balancer.js";

export interface LocalBalancerOptions {
  /** Loopback address the listeners bind. @default "127.0.0.1" */
  host?: string;
  /** Attempts per idempotent request across members before answering 502. @default 3 */
  attempts?: number;
  /** Called once a minute per group with that minute's request counts. */
  onCounts?: (counts: RequestCount) => void;
  /** Called for every answered request, with the status sent to the client (metrics listen here). */
  onRequest?: (group: string, status: number) => void;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

interface Member extends MemberSpec {
  inFlight: number;
  drained: (() => void)[];
}

interface Pool {
  info: PoolInfo;
  server: http.Server;
  members: Member[];
  next: number;
  counts: Omit<RequestCount, "group"> | null;
}

/** The built-in HTTP load balancer: one listener per group, round robin, retries idempotent requests. */
export function createLocalBalancer(
  options: LocalBalancerOptions = {},
): Balancer & { flush(): void } {
  const host = options.host ?? "127.0.0.1";
  const attempts = options.attempts ?? 3;
  const pools = new Map<string, Pool>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  // A finished minute is reported even when no request follows it.
  const flusher = setInterval(() => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    for (const pool of pools.values()) {
      if (pool.counts && pool.counts.minute < minute) {
        options.onCounts?.({ group: pool.info.group, ...pool.counts });
        pool.counts = null;
      }
    }
  }, 5_000);
  flusher.unref();

  function count(pool: Pool, status: number): void {
    options.onRequest?.(pool.info.group, status);
    if (!options.onCounts) return;
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    if (pool.counts && pool.counts.minute !== minute) {
      options.onCounts({ group: pool.info.group, ...pool.counts });
      pool.counts = null;
    }
    pool.counts ??= { minute, total: 0, s2xx: 0, s3xx: 0, s4xx: 0, s5xx: 0 };
    pool.counts.total++;
    const cls = Math.floor(status / 100);
    if (cls === 2) pool.counts.s2xx++;
    else if (cls === 3) pool.counts.s3xx++;
    else if (cls === 4) pool.counts.s4xx++;
    else if (cls === 5) pool.counts.s5xx++;
  }

  function pick(pool: Pool, tried: Set<string>): Member | null {
    const candidates = pool.members.filter((m) => !tried.has(m.id));
    if (candidates.length === 0) return null;
    pool.next = (pool.next + 1) % candidates.length;
    return candidates[pool.next] ?? null;
  }

  function release(member: Member): void {
    member.inFlight--;
    if (member.inFlight === 0) for (const fn of member.drained.splice(0)) fn();
  }

  function handle(pool: Pool, req: http.IncomingMessage, res: http.ServerResponse): void {
    const retryable = IDEMPOTENT.has(req.method ?? "GET");
    const tried = new Set<string>();
    const attempt = (n: number): void => {
      const member = pick(pool, tried);
      if (!member) {
        count(pool, 503);
        res.writeHead(503, { "content-type": "text/plain" }).end("no server in service\n");
        return;
      }
      tried.add(member.id);
      member.inFlight++;
      const upstream = http.request(
        {
          host: member.address,
          port: member.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, "x-forwarded-for": req.socket.remoteAddress ?? "" },
          agent,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          up.on("end", () => {
            count(pool, up.statusCode ?? 502);
            release(member);
          });
          up.on("error", () => release(member));
        },
      );
      let failed = false;
      upstream.on("error", () => {
        if (failed) return;
        failed = true;
        release(member);
        if (res.headersSent) return void res.destroy();
        if (retryable && n + 1 < attempts) return attempt(n + 1);
        count(pool, 502);
        res.writeHead(502, { "content-type": "text/plain" }).end("upstream failed\n");
      });
      if (retryable) upstream.end();
      else req.pipe(upstream);
    };
    attempt(0);
  }

  function poolOf(group: string): Pool {
    const pool = pools.get(group);
    if (!pool) throw new StrataError("not_found", `[balancer] no pool for group ${group}`);
    return pool;
  }

  return {
    /** Reports the minute in progress now (at shutdown, so no count is lost). */
    flush() {
      for (const pool of pools.values()) {
        if (pool.counts) options.onCounts?.({ group: pool.info.group, ...pool.counts });
        pool.counts = null;
      }
    },
    async ensurePool(group, poolOptions = {}) {
      const existing = pools.get(group);
      if (existing) return existing.info;
      const pool: Pool = {
        info: { group, address: "", port: 0 },
        server: http.createServer(),
        members: [],
        next: 0,
        counts: null,
      };
      pool.server.on("request", (req, res) => handle(pool, req, res));
      await new Promise<void>((resolve, reject) => {
        pool.server.once("error", reject);
        pool.server.listen(poolOptions.port ?? 0, host, () => resolve());
      });
      const { port } = pool.server.address() as AddressInfo;
      pool.info = { group, address: `${host}:${port}`, port };
      pools.set(group, pool);
      return pool.info;
    },
    async addMember(group, spec) {
      const pool = poolOf(group);
      const existing = pool.members.find((m) => m.id === spec.id);
      if (existing) {
        existing.address = spec.address;
        existing.port = spec.port;
        return;
      }
      pool.members.push({ ...spec, inFlight: 0, drained: [] });
    },
    async removeMember(group, id, removeOptions = {}) {
      const pool = pools.get(group);
      const member = pool?.members.find((m) => m.id === id);
      if (!pool || !member) return;
      pool.members = pool.members.filter((m) => m !== member);
      if (member.inFlight === 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, removeOptions.drainMs ?? 10_000);
        member.drained.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
    async removePool(group) {
      const pool = pools.get(group);
      if (!pool) return;
      pools.delete(group);
      if (pool.counts) options.onCounts?.({ group, ...pool.counts });
      pool.server.closeAllConnections();
      await new Promise<void>((resolve) => pool.server.close(() => resolve()));
    },
    members: async (group) =>
      (pools.get(group)?.members ?? []).map(({ id, address, port }) => ({ id, address, port })),
    async close() {
      clearInterval(flusher);
      for (const pool of pools.values()) {
        if (pool.counts) options.onCounts?.({ group: pool.info.group, ...pool.counts });
        pool.server.closeAllConnections();
        await new Promise<void>((resolve) => pool.server.close(() => resolve()));
      }
      pools.clear();
      agent.destroy();
    },
  };
}
