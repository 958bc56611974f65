import assert from "node:assert/strict";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { RequestCount } from "../balancer.js";
import { createDaemonBalancer } from "./daemon-client.js";

const octet = () => 10 + Math.floor(Math.random() * 240);
const prefix = `127.${octet()}.${octet()}`;
let dir: string;
let upstream: http.Server;
let upstreamPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strata-lbd-"));
  upstream = http.createServer((_, res) => res.end("up"));
  await new Promise<void>((r) => upstream.listen(0, `${prefix}.2`, r));
  upstreamPort = (upstream.address() as AddressInfo).port;
});
after(async () => {
  upstream.close();
  await rm(dir, { recursive: true, force: true });
});

// Regression (issue 8, defect 4): the balancer ran inside the control plane, so its crash was an outage.
test("the balancer daemon keeps serving after its control plane lets go, and is taken over", async () => {
  const counts: RequestCount[] = [];
  const first = await createDaemonBalancer({
    dir,
    host: `${prefix}.1`,
    onCounts: (c) => counts.push(c),
  });
  const pool = await first.ensurePool("web");
  await first.addMember("web", { id: "web-1", address: `${prefix}.2`, port: upstreamPort });
  assert.equal(await (await fetch(`http://${pool.address}/`)).text(), "up");
  await first.close(); // the control plane goes away; the daemon does not

  for (let i = 0; i < 3; i++) {
    const res = await fetch(`http://${pool.address}/`);
    assert.equal(res.status, 200, "still serving with no control plane");
    await res.text();
  }

  const second = await createDaemonBalancer({
    dir,
    host: `${prefix}.1`,
    onCounts: (c) => counts.push(c),
  });
  assert.deepEqual(await second.ensurePool("web"), pool, "the same listener");
  assert.deepEqual(await second.members("web"), [
    { id: "web-1", address: `${prefix}.2`, port: upstreamPort },
  ]);
  await second.removeMember("web", "web-1", { drainMs: 1000 });
  assert.equal((await fetch(`http://${pool.address}/`)).status, 503);
  await second.close({ stopDataPlane: true });
  const total = counts.reduce((sum, c) => sum + c.total, 0);
  assert.equal(total, 5, "every request counted once, across the takeover");
  await assert.rejects(fetch(`http://${pool.address}/`), "the listener is gone once stopped");
});
