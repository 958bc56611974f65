import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe } from "node:test";
import { runCases } from "../lib/contract.js";
import type { Instance, LaunchSpec, Provider } from "./provider.js";

export type ProviderCase =
  | "launch gives an instance of the group carrying its tags"
  | "get follows an instance to active"
  | "list filters by tags"
  | "terminate is idempotent and get returns null afterwards"
  | "concurrent launches give distinct instances"
  | "a second live server with the same name is refused"
  | "a launch from an unknown image rejects and leaves no server behind";

export interface ProviderContractOptions {
  /** Names the suite when an implementation runs it in several configurations. @default "Provider contract" */
  name?: string;
  /**
   * A provider for one case. `close` terminates what the case left and
   * releases the provider. `unknownImage` is an image id the provider has
   * never seen.
   */
  create: () => Promise<{ provider: Provider; unknownImage: string; close: () => Promise<void> }>;
  /** Cases an implementation cannot run here, each with the reason. */
  skip?: Partial<Record<ProviderCase, string>>;
  /** Longest wait for an instance to become active. @default 120000 */
  activeTimeoutMs?: number;
}

/** The behaviour every Provider shares; run it from each implementation's test file. */
export function runProviderContract(options: ProviderContractOptions): void {
  const activeTimeoutMs = options.activeTimeoutMs ?? 120_000;
  interface Subject {
    provider: Provider;
    unknownImage: string;
    /** A tag only this case's instances carry, so leftovers of other runs never count. */
    run: string;
    spec(name: string, extra?: Partial<LaunchSpec>): LaunchSpec;
  }

  const waitActive = async (provider: Provider, id: string): Promise<Instance> => {
    const deadline = Date.now() + activeTimeoutMs;
    for (;;) {
      const instance = await provider.get(id);
      assert.ok(instance, `instance ${id} exists while it boots`);
      if (instance.state === "active") return instance;
      assert.notEqual(instance.state, "error", `instance ${id} went to error`);
      if (Date.now() > deadline)
        assert.fail(`instance ${id} not active within ${activeTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const cases: Record<ProviderCase, (s: Subject) => Promise<void>> = {
    "launch gives an instance of the group carrying its tags": async (s) => {
      const instance = await s.provider.launch(s.spec(`web-${s.run}-1`, { tags: { role: "app" } }));
      assert.ok(instance.id);
      assert.equal(instance.name, `web-${s.run}-1`);
      assert.ok(["building", "active"].includes(instance.state), instance.state);
      assert.equal(instance.tags["strata:test"], s.run);
      assert.equal(instance.tags.role, "app");
      assert.ok(!Number.isNaN(Date.parse(instance.created_at)), "created_at is an ISO time");
    },
    "get follows an instance to active": async (s) => {
      const launched = await s.provider.launch(s.spec(`web-${s.run}-1`));
      const active = await waitActive(s.provider, launched.id);
      assert.equal(active.id, launched.id);
      assert.equal(active.name, launched.name);
    },
    "list filters by tags": async (s) => {
      const a = await s.provider.launch(s.spec(`web-${s.run}-1`, { tags: { role: "a" } }));
      const b = await s.provider.launch(s.spec(`web-${s.run}-2`, { tags: { role: "b" } }));
      const ids = async (tags: Record<string, string>) =>
        (await s.provider.list({ "strata:test": s.run, ...tags })).map((i) => i.id).sort();
      assert.deepEqual(await ids({}), [a.id, b.id].sort());
      assert.deepEqual(await ids({ role: "a" }), [a.id]);
      assert.deepEqual(await ids({ role: "nobody" }), []);
    },
    "terminate is idempotent and get returns null afterwards": async (s) => {
      const instance = await s.provider.launch(s.spec(`web-${s.run}-1`));
      await waitActive(s.provider, instance.id);
      await s.provider.terminate(instance.id);
      await s.provider.terminate(instance.id);
      assert.equal(await s.provider.get(instance.id), null);
      assert.deepEqual(await s.provider.list({ "strata:test": s.run }), []);
    },
    "concurrent launches give distinct instances": async (s) => {
      const launched = await Promise.all(
        [1, 2, 3].map((n) => s.provider.launch(s.spec(`web-${s.run}-${n}`))),
      );
      assert.equal(new Set(launched.map((i) => i.id)).size, 3);
      assert.equal((await s.provider.list({ "strata:test": s.run })).length, 3);
    },
    "a second live server with the same name is refused": async (s) => {
      await s.provider.launch(s.spec(`web-${s.run}-1`));
      await assert.rejects(s.provider.launch(s.spec(`web-${s.run}-1`)), { code: "conflict" });
      assert.equal((await s.provider.list({ "strata:test": s.run })).length, 1);
    },
    "a launch from an unknown image rejects and leaves no server behind": async (s) => {
      await assert.rejects(
        s.provider.launch(s.spec(`web-${s.run}-1`, { image: s.unknownImage })),
        (err: Error) => err.message.includes(s.unknownImage),
      );
      assert.deepEqual(await s.provider.list({ "strata:test": s.run }), []);
    },
  };

  describe(options.name ?? "Provider contract", () => {
    runCases(
      cases,
      async () => {
        const { provider, unknownImage, close } = await options.create();
        const run = randomBytes(3).toString("hex");
        const subject: Subject = {
          provider,
          unknownImage,
          run,
          spec: (name, extra = {}) => ({
            name,
            group: "web",
            agent: { server: "http://127.0.0.1:9", joinToken: "contract-token", group: "web" },
            ...extra,
            tags: { "strata:test": run, ...extra.tags },
          }),
        };
        return {
          subject,
          close: async () => {
            try {
              for (const instance of await provider.list({ "strata:test": run }))
                await provider.terminate(instance.id);
            } finally {
              await close();
            }
          },
        };
      },
      options.skip,
    );
  });
}
