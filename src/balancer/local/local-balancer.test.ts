import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { RequestCount } from "../balancer.js";
import { createLocalBalancer } from "./local-balancer.js";

const octet = () => 10 + Math.floor(Math.random() * 240);
const prefix = `127.${octet()}.${octet()}`;

/** An upstream answering with its name, optionally after a delay. */
async function upstream(name: string, host: string, delayMs = 0) {
  const server = http.createServer((req, res) => {
    setTimeout(() => res.end(name), delayMs);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as AddressInfo).port };
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
    ups.push(await upstream("a", `${prefix}.2`), await upstream("b", `${prefix}.3`, 300));
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
    const inFlight = get(url); // only b is left; it answers after 300 ms
    await new Promise((r) => setTimeout(r, 50));
    let drained = false;
    const removal = balancer
      .removeMember("web", "b", { drainMs: 5000 })
      .then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(drained, false, "still draining while the request runs");
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
