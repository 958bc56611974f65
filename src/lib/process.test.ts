import assert from "node:assert/strict";
import { getPriority } from "node:os";
import { describe, test } from "node:test";
import { BACKGROUND_NICE, atLowPriority, killGroup, spawnGroup, stopGroup } from "./process.js";

const asRoot = process.getuid?.() === 0;

describe("background work at a low CPU priority (the store's upkeep)", () => {
  test(
    "lowers this thread's priority during the work and puts it back after, also when it throws",
    { skip: !asRoot && "the priority can be raised back only as root" },
    async () => {
      const before = getPriority(0);
      const during = await atLowPriority(async () => getPriority(0));
      assert.equal(during, Math.min(19, before + BACKGROUND_NICE));
      assert.equal(getPriority(0), before);
      await assert.rejects(
        atLowPriority(async () => {
          throw new Error("upkeep failed");
        }),
        /upkeep failed/,
      );
      assert.equal(getPriority(0), before);
    },
  );

  test(
    "a child spawned during the work (an app restarted, a hook) runs at the normal priority",
    { skip: !asRoot && "the priority can be raised back only as root" },
    async () => {
      const before = getPriority(0);
      const child = await atLowPriority(async () =>
        spawnGroup([process.execPath, "-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" }),
      );
      try {
        assert.equal(getPriority(child.pid!), before);
      } finally {
        killGroup(child.pid, "SIGKILL");
        await stopGroup(child, 1000);
      }
    },
  );

  test("without root, the work runs as it is", { skip: asRoot && "runs as root" }, async () => {
    const before = getPriority(0);
    assert.equal(await atLowPriority(async () => getPriority(0)), before);
  });
});
