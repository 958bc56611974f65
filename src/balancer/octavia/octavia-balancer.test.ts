import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { OpenStackClient } from "../../lib/openstack/client.js";
import { testbedClient, testbedSkip } from "../../lib/openstack/testbed.js";
import { runBalancerContract, type BalancerCase } from "../balancer.contract.js";
import { createOctaviaBalancer } from "./octavia-balancer.js";

const skip = testbedSkip();
let client: OpenStackClient;
let lbId = "";

async function waitLb(status: "ACTIVE" | "gone"): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`load balancer ${lbId} not ${status} within 120 s`);
    const answer = await client.request<{ loadbalancer: { provisioning_status: string } }>(
      "load-balancer",
      "GET",
      `/lbaas/loadbalancers/${lbId}`,
      { accept: [404] },
    );
    if (answer.status === 404) {
      if (status === "gone") return;
      throw new Error(`load balancer ${lbId} is gone`);
    }
    const state = answer.body.loadbalancer.provisioning_status;
    if (status === "ACTIVE" && state === "ACTIVE") return;
    // A cascade delete that failed in the worker leaves ERROR: ask again.
    if (status === "gone" && state === "ERROR")
      await client.request("load-balancer", "DELETE", `/lbaas/loadbalancers/${lbId}`, {
        query: { cascade: true },
        accept: [404, 409],
      });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const balancer = (extra: Partial<Parameters<typeof createOctaviaBalancer>[0]> = {}) =>
  createOctaviaBalancer({ client, loadbalancer: lbId, pollMs: 200, ...extra });

describe("Octavia (testbed: amphora provider with no-op backends)", { skip }, () => {
  before(async () => {
    client = testbedClient();
    // The no-op network driver accepts any subnet id.
    const created = await client.request<{ loadbalancer: { id: string } }>(
      "load-balancer",
      "POST",
      "/lbaas/loadbalancers",
      {
        body: {
          loadbalancer: {
            name: `strata-test-${randomBytes(3).toString("hex")}`,
            vip_subnet_id: randomUUID(),
          },
        },
      },
    );
    lbId = created.body.loadbalancer.id;
    await waitLb("ACTIVE");
  });
  after(async () => {
    if (!lbId) return;
    await client.request("load-balancer", "DELETE", `/lbaas/loadbalancers/${lbId}`, {
      query: { cascade: true },
    });
    await waitLb("gone");
  });

  runBalancerContract({
    name: "Balancer contract: octavia",
    create: async () => {
      const subject = balancer();
      return { balancer: subject, close: () => subject.close() };
    },
    skip: skip
      ? (Object.fromEntries(
          (
            [
              "ensurePool gives an address and is idempotent",
              "addMember puts a member in service",
              "addMember with the same id updates the member",
              "removeMember takes a member out and is idempotent",
              "groups keep their own members",
              "concurrent changes to one pool all land",
              "a group without a pool has no members and removing from it resolves",
            ] as BalancerCase[]
          ).map((c) => [c, skip]),
        ) as Partial<Record<BalancerCase, string>>)
      : {},
  });

  test("a load balancer named by its name is found; an unknown one is named in the error", async () => {
    const lb = await client.request<{ loadbalancer: { name: string } }>(
      "load-balancer",
      "GET",
      `/lbaas/loadbalancers/${lbId}`,
    );
    const byName = createOctaviaBalancer({
      client,
      loadbalancer: lb.body.loadbalancer.name,
      pollMs: 200,
    });
    assert.ok((await byName.ensurePool(`named-${randomBytes(2).toString("hex")}`)).port > 0);
    const unknown = createOctaviaBalancer({ client, loadbalancer: "no-such-lb", pollMs: 200 });
    await assert.rejects(
      unknown.ensurePool("web"),
      /cloud testbed-demo\): load-balancer: no load balancer named no-such-lb/,
    );
  });

  test("a member POST whose answer never came is found by name, not added twice (Octavia answered one after 38 s at a load of 20)", async () => {
    let lost = 0;
    // The real request reaches Octavia; only its answer is lost, as when the client's timeout fires first.
    const lossy: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (lost === 0 && init?.method === "POST" && String(input).endsWith("/members")) {
        lost++;
        throw Object.assign(new Error("The operation was aborted due to timeout"), {
          name: "TimeoutError",
        });
      }
      return answer;
    };
    const subject = createOctaviaBalancer({
      client: testbedClient("demo", { fetch: lossy }),
      loadbalancer: lbId,
      pollMs: 200,
    });
    const group = `lost-${randomBytes(2).toString("hex")}`;
    await subject.ensurePool(group);
    await subject.addMember(group, { id: "web-1", address: "127.60.9.3", port: 8080 });
    assert.equal(lost, 1);
    assert.deepEqual(
      (await subject.members(group)).map((m) => m.id),
      ["web-1"],
    );
    await subject.removeMember(group, "web-1", { drainMs: 0 });
  });

  test("removeMember drains first: weight 0 while draining, then the member is deleted", async () => {
    const subject = balancer();
    const group = `drain-${randomBytes(2).toString("hex")}`;
    await subject.ensurePool(group);
    await subject.addMember(group, { id: "web-1", address: "127.60.9.2", port: 8080 });
    const pools = await client.list<{ id: string }>("load-balancer", "/lbaas/pools", "pools", {
      loadbalancer_id: lbId,
      name: `strata-${group}`,
    });
    const weights = async () =>
      (
        await client.list<{ weight: number }>(
          "load-balancer",
          `/lbaas/pools/${pools[0]!.id}/members`,
          "members",
        )
      ).map((m) => m.weight);
    const removing = subject.removeMember(group, "web-1", { drainMs: 3000 });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const seen = await weights();
      if (seen[0] === 0) break;
      assert.ok(Date.now() < deadline, "the member's weight never went to 0");
      assert.deepEqual(seen, [1], "the member stays until drained");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await subject.members(group), [], "a draining member is out of service");
    await removing;
    assert.deepEqual(await weights(), []);
  });

  test("with a health monitor, a member counts as in service only once ONLINE", async () => {
    const subject = balancer({ onlineTimeoutMs: 1500 });
    const group = `hm-${randomBytes(2).toString("hex")}`;
    await subject.ensurePool(group);
    const [pool] = await client.list<{ id: string }>("load-balancer", "/lbaas/pools", "pools", {
      loadbalancer_id: lbId,
      name: `strata-${group}`,
    });
    await client.request("load-balancer", "POST", "/lbaas/healthmonitors", {
      body: {
        healthmonitor: {
          pool_id: pool!.id,
          type: "HTTP",
          delay: 5,
          timeout: 3,
          max_retries: 2,
          url_path: "/health",
        },
      },
    });
    await waitLb("ACTIVE");
    // Testbed limit: no amphora sends heartbeats, so a member never turns ONLINE; this checks that
    // addMember waits for ONLINE and then says why it gave up.
    await assert.rejects(
      subject.addMember(group, { id: "web-1", address: "127.60.9.2", port: 8080 }),
      /load-balancer: member web-1 still \w+ 1500 ms after it was added \(health monitor; request req-/,
    );
  });
});
