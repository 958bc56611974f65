import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { Balancer } from "./balancer.js";

export type BalancerCase =
  | "ensurePool gives an address and is idempotent"
  | "addMember puts a member in service"
  | "addMember with the same id updates the member"
  | "removeMember takes a member out and is idempotent"
  | "groups keep their own members"
  | "concurrent changes to one pool all land"
  | "a group without a pool has no members and removing from it resolves"
  | "removePool takes the listener and its members away and is idempotent";

export interface BalancerContractOptions {
  /** Names the suite when an implementation runs it in several configurations. @default "Balancer contract" */
  name?: string;
  /** A balancer for one case; `close` releases it (and what the case created). */
  create: () => Promise<{ balancer: Balancer; close: () => Promise<void> }>;
  /** Cases an implementation cannot run here, each with the reason. */
  skip?: Partial<Record<BalancerCase, string>>;
  /** Members' addresses: `<prefix>.<n>`. @default "127.60.9" */
  addressPrefix?: string;
}

/** The behaviour every Balancer shares; run it from each implementation's test file. */
export function runBalancerContract(options: BalancerContractOptions): void {
  const at = (n: number) => `${options.addressPrefix ?? "127.60.9"}.${n}`;
  interface Subject {
    balancer: Balancer;
    /** A group name only this case uses. */
    group: (suffix?: string) => string;
  }
  const ids = async (b: Balancer, group: string) =>
    (await b.members(group)).map((m) => m.id).sort();

  const cases: Record<BalancerCase, (s: Subject) => Promise<void>> = {
    "ensurePool gives an address and is idempotent": async ({ balancer, group }) => {
      const pool = await balancer.ensurePool(group());
      assert.equal(pool.group, group());
      assert.ok(pool.port > 0);
      assert.ok(pool.address.endsWith(`:${pool.port}`), pool.address);
      assert.deepEqual(await balancer.ensurePool(group()), pool);
    },
    "addMember puts a member in service": async ({ balancer, group }) => {
      await balancer.ensurePool(group());
      await balancer.addMember(group(), { id: "web-1", address: at(2), port: 8080 });
      assert.deepEqual(await balancer.members(group()), [
        { id: "web-1", address: at(2), port: 8080 },
      ]);
    },
    "addMember with the same id updates the member": async ({ balancer, group }) => {
      await balancer.ensurePool(group());
      await balancer.addMember(group(), { id: "web-1", address: at(2), port: 8080 });
      await balancer.addMember(group(), { id: "web-1", address: at(3), port: 8081 });
      assert.deepEqual(await balancer.members(group()), [
        { id: "web-1", address: at(3), port: 8081 },
      ]);
    },
    "removeMember takes a member out and is idempotent": async ({ balancer, group }) => {
      await balancer.ensurePool(group());
      await balancer.addMember(group(), { id: "web-1", address: at(2), port: 8080 });
      await balancer.addMember(group(), { id: "web-2", address: at(3), port: 8080 });
      await balancer.removeMember(group(), "web-1", { drainMs: 100 });
      await balancer.removeMember(group(), "web-1", { drainMs: 100 });
      await balancer.removeMember(group(), "never-added", { drainMs: 100 });
      assert.deepEqual(await ids(balancer, group()), ["web-2"]);
    },
    "groups keep their own members": async ({ balancer, group }) => {
      await balancer.ensurePool(group("a"));
      await balancer.ensurePool(group("b"));
      const a = await balancer.ensurePool(group("a"));
      const b = await balancer.ensurePool(group("b"));
      assert.notEqual(a.port, b.port, "each group has its own listener");
      await balancer.addMember(group("a"), { id: "a-1", address: at(2), port: 8080 });
      await balancer.addMember(group("b"), { id: "b-1", address: at(3), port: 8080 });
      assert.deepEqual(await ids(balancer, group("a")), ["a-1"]);
      assert.deepEqual(await ids(balancer, group("b")), ["b-1"]);
    },
    "concurrent changes to one pool all land": async ({ balancer, group }) => {
      await balancer.ensurePool(group());
      await Promise.all(
        [1, 2, 3].map((n) =>
          balancer.addMember(group(), { id: `web-${n}`, address: at(n + 1), port: 8080 }),
        ),
      );
      assert.deepEqual(await ids(balancer, group()), ["web-1", "web-2", "web-3"]);
      await Promise.all([
        balancer.removeMember(group(), "web-1", { drainMs: 100 }),
        balancer.addMember(group(), { id: "web-4", address: at(5), port: 8080 }),
      ]);
      assert.deepEqual(await ids(balancer, group()), ["web-2", "web-3", "web-4"]);
    },
    "removePool takes the listener and its members away and is idempotent": async ({
      balancer,
      group,
    }) => {
      await balancer.ensurePool(group("gone"));
      await balancer.ensurePool(group("kept"));
      await balancer.addMember(group("gone"), { id: "web-1", address: at(2), port: 8080 });
      await balancer.addMember(group("kept"), { id: "web-2", address: at(3), port: 8080 });
      await balancer.removePool(group("gone"));
      await balancer.removePool(group("gone"));
      await balancer.removePool(group("never"));
      assert.deepEqual(await balancer.members(group("gone")), []);
      assert.deepEqual(await ids(balancer, group("kept")), ["web-2"]);
      const again = await balancer.ensurePool(group("gone"));
      assert.ok(again.port > 0, "a removed group can have a listener again");
    },
    "a group without a pool has no members and removing from it resolves": async ({
      balancer,
      group,
    }) => {
      assert.deepEqual(await balancer.members(group("none")), []);
      await balancer.removeMember(group("none"), "web-1", { drainMs: 100 });
    },
  };

  describe(options.name ?? "Balancer contract", () => {
    runCases(
      cases,
      async () => {
        const { balancer, close } = await options.create();
        const run = randomBytes(3).toString("hex");
        return {
          subject: { balancer, group: (suffix = "") => `web${suffix}-${run}` },
          close,
        };
      },
      options.skip,
    );
  });
}
