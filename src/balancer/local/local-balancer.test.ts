import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { RequestCount } from "../balancer.js";
import { runBalancerContract } from "../balancer.contract.js";
import { createLocalBalancer } from "./local-balancer.js";

const octet = () => 10 + Math.floor(Math.random() * 240);
const prefix = `127.${octet()}.${octet()}`;

/** An upstream answering with its name; while `hold` is set, requests wait for its release. */
async function upstream(name: string, host: string) {
  const gate = { hold: false, arrived: () => {}, release: () => {} };
  const server = http.createServer((_, res) => {
    if (!gate.hold) return void res.end(name);
    gate.arrived();
    gate.release = () => res.end(name);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, gate, port: (server.address() as AddressInfo).port };
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe("local balancer", () => {
  const counts: RequestCount[] = [];
  const balancer = createLocalBalancer({ host: `${prefix}.1`, onCounts: (c) => counts.push(c) });
  let url: string;
  const ups: Awaited<ReturnType<typeof upstream>>[] = [];

  before(async () => {
    const pool = await balancer.ensurePool("web");
    assert.deepEqual(await balancer.ensurePool("web"), pool, "ensurePool is idempotent");
    url = `http://${pool.address}/`;
    ups.push(await upstream("a", `${prefix}.2`), await upstream("b", `${prefix}.3`));
  });
  after(async () => {
    await balancer.close();
    for (const u of ups) u.server.close();
  });

  test("answers 503 with no member in service", async () => {
    assert.equal((await get(url)).status, 503);
  });

  test("spreads requests over its members", async () => {
    await balancer.addMember("web", { id: "a", address: `${prefix}.2`, port: ups[0]!.port });
    await balancer.addMember("web", { id: "b", address: `${prefix}.3`, port: ups[1]!.port });
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await get(url)).body);
    assert.deepEqual([...bodies].sort(), ["a", "b"]);
  });

  test("retries an idempotent request on another member when one is down", async () => {
    await balancer.addMember("web", { id: "dead", address: `${prefix}.4`, port: 1 });
    for (let i = 0; i < 6; i++) assert.equal((await get(url)).status, 200);
    await balancer.removeMember("web", "dead");
  });

  test("removeMember waits for the member's requests in flight", async () => {
    await balancer.removeMember("web", "a");
    const b = ups[1]!.gate;
    b.hold = true;
    const arrived = new Promise<void>((r) => (b.arrived = r));
    const inFlight = get(url); // only b is left, and it holds the answer
    await arrived;
    let drained = false;
    const removal = balancer
      .removeMember("web", "b", { drainMs: 60_000 })
      .then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(drained, false, "still draining while the request runs");
    b.release();
    assert.equal((await inFlight).body, "b");
    await removal;
    assert.deepEqual(await balancer.members("web"), []);
  });

  test("counts requests per minute by status class", async () => {
    await balancer.close();
    const total = counts.reduce((n, c) => n + c.total, 0);
    const s2xx = counts.reduce((n, c) => n + c.s2xx, 0);
    const s5xx = counts.reduce((n, c) => n + c.s5xx, 0);
    assert.equal(total, 1 + 6 + 6 + 1);
    assert.equal(s2xx, 13);
    assert.equal(s5xx, 1);
  });
});

runBalancerContract({
  name: "Balancer contract: local",
  create: async () => {
    const balancer = createLocalBalancer({ host: `${prefix}.1` });
    return { balancer, close: () => balancer.close() };
  },
});
