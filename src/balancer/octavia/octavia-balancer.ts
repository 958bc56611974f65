import { StrataError } from "../../lib/errors.js";
import type { OpenStackClient } from "../../lib/openstack/client.js";
import { OpenStackError } from "../../lib/openstack/errors.js";
import type { Balancer, MemberSpec, PoolInfo } from "../balancer.js";

export interface OctaviaBalancerOptions {
  client: OpenStackClient;
  /** Load balancer name or id; it must exist. */
  loadbalancer: string;
  /** Pool name or id per group; `{group}` is replaced. @default "strata-{group}" */
  pool?: string;
  /** Poll interval while the load balancer is PENDING_*. @default 1000 */
  pollMs?: number;
  /** Longest wait for the load balancer to be ACTIVE again after a change. @default 300000 */
  settleTimeoutMs?: number;
  /** Longest wait for a new member to be ONLINE when the pool has a health monitor. @default 300000 */
  onlineTimeoutMs?: number;
  /** Drain time when removeMember is given none. @default 10000 */
  drainMs?: number;
}

interface OctaviaLoadBalancer {
  id: string;
  name: string;
  vip_address: string;
  provisioning_status: string;
}
interface OctaviaPool {
  id: string;
  name: string;
  healthmonitor_id: string | null;
  listeners: { id: string }[];
}
interface OctaviaMember {
  id: string;
  name: string;
  address: string;
  protocol_port: number;
  weight: number;
  operating_status: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ports tried for a group's new listener when ensurePool names none. */
const FIRST_PORT = 8001;

/**
 * Service-in and service-out as members of Octavia pools, one pool per group
 * on one existing load balancer. Octavia takes one change at a time per load
 * balancer (it answers 409 while PENDING_UPDATE), so changes are serialised
 * here per load balancer and each waits for ACTIVE again.
 */
export function createOctaviaBalancer(options: OctaviaBalancerOptions): Balancer {
  const { client } = options;
  const template = options.pool ?? "strata-{group}";
  const pollMs = options.pollMs ?? 1000;
  const settleTimeoutMs = options.settleTimeoutMs ?? 300_000;
  const onlineTimeoutMs = options.onlineTimeoutMs ?? 300_000;
  const defaultDrainMs = options.drainMs ?? 10_000;
  const prefix = `[balancer] octavia (cloud ${client.cloud.name})`;
  const pools = new Map<string, { pool: OctaviaPool; info: PoolInfo }>();
  let lb: Promise<OctaviaLoadBalancer> | null = null;
  let changes: Promise<unknown> = Promise.resolve();
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const loadBalancer = () => {
    lb ??= (async () => {
      if (UUID.test(options.loadbalancer)) {
        const answer = await client.request<{ loadbalancer: OctaviaLoadBalancer }>(
          "load-balancer",
          "GET",
          `/lbaas/loadbalancers/${options.loadbalancer}`,
        );
        return answer.body.loadbalancer;
      }
      const found = await client.list<OctaviaLoadBalancer>(
        "load-balancer",
        "/lbaas/loadbalancers",
        "loadbalancers",
        {
          name: options.loadbalancer,
        },
      );
      if (found.length !== 1)
        throw new StrataError(
          found.length ? "conflict" : "not_found",
          `${prefix}: load-balancer: ${found.length ? `${found.length} load balancers` : "no load balancer"} named ${options.loadbalancer}`,
        );
      return found[0]!;
    })().catch((err: unknown) => {
      lb = null;
      throw err;
    });
    return lb;
  };

  /** Resolves once the load balancer is ACTIVE (PENDING_* are waited out; ERROR throws). */
  async function settled(): Promise<void> {
    const { id } = await loadBalancer();
    const deadline = Date.now() + settleTimeoutMs;
    for (;;) {
      const answer = await client.request<{ loadbalancer: OctaviaLoadBalancer }>(
        "load-balancer",
        "GET",
        `/lbaas/loadbalancers/${id}`,
      );
      const status = answer.body.loadbalancer.provisioning_status;
      if (status === "ACTIVE") return;
      if (status === "ERROR")
        throw new StrataError(
          "unavailable",
          `${prefix}: load-balancer: ${options.loadbalancer} is in ERROR (request ${answer.requestId ?? "without id"})`,
        );
      if (Date.now() > deadline)
        throw new StrataError(
          "timeout",
          `${prefix}: load-balancer: ${options.loadbalancer} still ${status} after ${settleTimeoutMs} ms`,
        );
      await sleep(pollMs);
    }
  }

  /** Runs one change alone on the load balancer, once it is ACTIVE, and waits until it is ACTIVE again. */
  function change<T>(work: () => Promise<T>): Promise<T> {
    const run = changes.then(async () => {
      await settled();
      const result = await work();
      await settled();
      return result;
    });
    changes = run.catch(() => undefined);
    return run;
  }

  async function findPool(group: string): Promise<OctaviaPool | null> {
    const name = template.replace("{group}", group);
    if (UUID.test(name)) {
      const answer = await client.request<{ pool: OctaviaPool }>(
        "load-balancer",
        "GET",
        `/lbaas/pools/${name}`,
        {
          accept: [404],
        },
      );
      return answer.status === 404 ? null : answer.body.pool;
    }
    const { id } = await loadBalancer();
    const found = await client.list<OctaviaPool>("load-balancer", "/lbaas/pools", "pools", {
      loadbalancer_id: id,
      name,
    });
    return found[0] ?? null;
  }

  async function poolInfo(group: string, pool: OctaviaPool): Promise<PoolInfo> {
    const { vip_address } = await loadBalancer();
    const listenerId = pool.listeners[0]?.id;
    let port = 0;
    if (listenerId) {
      const answer = await client.request<{ listener: { protocol_port: number } }>(
        "load-balancer",
        "GET",
        `/lbaas/listeners/${listenerId}`,
      );
      port = answer.body.listener.protocol_port;
    }
    return { group, address: `${vip_address}:${port}`, port };
  }

  async function ensure(
    group: string,
    wish?: number,
  ): Promise<{ pool: OctaviaPool; info: PoolInfo }> {
    const known = pools.get(group);
    if (known) return known;
    let pool = await findPool(group);
    if (!pool) {
      pool = await change(async () => {
        const again = await findPool(group);
        if (again) return again;
        const { id } = await loadBalancer();
        const listeners = await client.list<{ protocol_port: number }>(
          "load-balancer",
          "/lbaas/listeners",
          "listeners",
          {
            loadbalancer_id: id,
          },
        );
        const used = new Set(listeners.map((l) => l.protocol_port));
        let port = wish || FIRST_PORT;
        while (!wish && used.has(port)) port++;
        const name = template.replace("{group}", group);
        const listener = await client.request<{ listener: { id: string } }>(
          "load-balancer",
          "POST",
          "/lbaas/listeners",
          {
            body: {
              listener: { name, protocol: "HTTP", protocol_port: port, loadbalancer_id: id },
            },
          },
        );
        await settled();
        const created = await client.request<{ pool: OctaviaPool }>(
          "load-balancer",
          "POST",
          "/lbaas/pools",
          {
            body: {
              pool: {
                name,
                protocol: "HTTP",
                lb_algorithm: "ROUND_ROBIN",
                listener_id: listener.body.listener.id,
              },
            },
          },
        );
        return created.body.pool;
      });
    }
    const entry = { pool, info: await poolInfo(group, pool) };
    pools.set(group, entry);
    return entry;
  }

  async function listMembers(poolId: string): Promise<OctaviaMember[]> {
    return client.list<OctaviaMember>("load-balancer", `/lbaas/pools/${poolId}/members`, "members");
  }

  async function waitOnline(poolId: string, memberId: string, name: string): Promise<void> {
    const deadline = Date.now() + onlineTimeoutMs;
    for (;;) {
      const answer = await client.request<{ member: OctaviaMember }>(
        "load-balancer",
        "GET",
        `/lbaas/pools/${poolId}/members/${memberId}`,
      );
      const status = answer.body.member.operating_status;
      if (status === "ONLINE") return;
      if (Date.now() > deadline)
        throw new StrataError(
          "timeout",
          `${prefix}: load-balancer: member ${name} still ${status} ${onlineTimeoutMs} ms after it was added (health monitor; request ${answer.requestId ?? "without id"})`,
        );
      await sleep(pollMs);
    }
  }

  return {
    async ensurePool(group, poolOptions = {}) {
      return (await ensure(group, poolOptions.port)).info;
    },
    async addMember(group, spec) {
      const { pool } = await ensure(group);
      const memberId = await change(async () => {
        const existing = (await listMembers(pool.id)).find((m) => m.name === spec.id);
        if (existing && existing.address === spec.address && existing.protocol_port === spec.port) {
          if (existing.weight === 1) return existing.id;
          await client.request(
            "load-balancer",
            "PUT",
            `/lbaas/pools/${pool.id}/members/${existing.id}`,
            {
              body: { member: { weight: 1 } },
            },
          );
          return existing.id;
        }
        if (existing) {
          // Octavia cannot change a member's address: replace it.
          await client.request(
            "load-balancer",
            "DELETE",
            `/lbaas/pools/${pool.id}/members/${existing.id}`,
            {
              accept: [404],
            },
          );
          await settled();
        }
        // A POST is not retried blindly on 5xx or on no answer (it may have landed: Octavia under
        // load has answered after the client's timeout); the member's name tells whether it did.
        for (let attempt = 1; ; attempt++) {
          try {
            const created = await client.request<{ member: OctaviaMember }>(
              "load-balancer",
              "POST",
              `/lbaas/pools/${pool.id}/members`,
              {
                body: {
                  member: {
                    name: spec.id,
                    address: spec.address,
                    protocol_port: spec.port,
                    weight: 1,
                  },
                },
              },
            );
            return created.body.member.id;
          } catch (err) {
            const unsure = err instanceof OpenStackError && (err.status === 0 || err.status >= 500);
            if (!unsure || attempt >= 3) throw err;
            await settled();
            const landed = (await listMembers(pool.id)).find((m) => m.name === spec.id);
            if (landed) return landed.id;
          }
        }
      });
      const current = await findPool(group);
      if (current?.healthmonitor_id) await waitOnline(pool.id, memberId, spec.id);
    },
    async removeMember(group, id, removeOptions = {}) {
      const pool = pools.get(group)?.pool ?? (await findPool(group));
      if (!pool) return;
      const member = (await listMembers(pool.id)).find((m) => m.name === id);
      if (!member) return;
      if (member.weight !== 0) {
        // Drain: weight 0 sends no new connections; established ones finish meanwhile.
        await change(() =>
          client.request("load-balancer", "PUT", `/lbaas/pools/${pool.id}/members/${member.id}`, {
            body: { member: { weight: 0 } },
            accept: [404],
          }),
        );
        await sleep(removeOptions.drainMs ?? defaultDrainMs);
      }
      await change(() =>
        client.request("load-balancer", "DELETE", `/lbaas/pools/${pool.id}/members/${member.id}`, {
          accept: [404],
        }),
      );
    },
    async removePool(group) {
      const pool = pools.get(group)?.pool ?? (await findPool(group));
      if (!pool) return;
      await change(() =>
        client.request("load-balancer", "DELETE", `/lbaas/pools/${pool.id}`, { accept: [404] }),
      );
      for (const listener of pool.listeners) {
        await change(() =>
          client.request("load-balancer", "DELETE", `/lbaas/listeners/${listener.id}`, {
            accept: [404],
          }),
        );
      }
      pools.delete(group);
    },
    async members(group): Promise<MemberSpec[]> {
      const pool = pools.get(group)?.pool ?? (await findPool(group));
      if (!pool) return [];
      return (await listMembers(pool.id))
        .filter((m) => m.weight > 0)
        .map((m) => ({ id: m.name, address: m.address, port: m.protocol_port }));
    },
    async close() {
      await changes;
    },
  };
}
