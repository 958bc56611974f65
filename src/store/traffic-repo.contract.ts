import assert from "node:assert/strict";
import { describe } from "node:test";
import { StrataError } from "../lib/errors.js";
import type { MinuteCounts } from "../traffic/minute-counter.js";
import type { TrafficRepo } from "./traffic-repo.js";
import { runCases } from "../lib/contract.js";

export interface TrafficRepoContractOptions {
  /** A fresh, empty repo per test, and how to dispose of it. */
  create: () => Promise<{ repo: TrafficRepo; close: () => Promise<void> }>;
  /** Test names to skip, each with the reason. */
  skip?: Record<string, string>;
}

const T0 = Date.UTC(2024, 2, 1, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;

function minute(offsetMinutes: number, total: number, s2xx = total, s3xx = 0, s4xx = 0, s5xx = 0) {
  return { minute: T0 + offsetMinutes * MIN, total, s2xx, s3xx, s4xx, s5xx };
}

function sumTotals(rows: { total: number }[]): number {
  return rows.reduce((sum, r) => sum + r.total, 0);
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err) => err instanceof StrataError && err.code === code);
}

/** The behaviour every TrafficRepo implementation must have. */
export function runTrafficRepoContract(options: TrafficRepoContractOptions): void {
  const cases: Record<string, (repo: TrafficRepo) => Promise<void>> = {
    "adding the same minute twice stores the sum of both batches": async (repo) => {
      await repo.add("web", [minute(0, 10, 6, 2, 1, 1), minute(1, 5)]);
      await repo.add("web", [minute(0, 7, 3, 0, 4, 0)]);
      const rows = await repo.minutes("web", T0, T0 + 10 * MIN);
      assert.deepEqual(rows, [
        { minute: T0, total: 17, s2xx: 9, s3xx: 2, s4xx: 5, s5xx: 1 },
        { minute: T0 + MIN, total: 5, s2xx: 5, s3xx: 0, s4xx: 0, s5xx: 0 },
      ]);
    },
    "deleteApp removes an app's minutes, sources and checkpoints, and only its (app rm left them)":
      async (repo) => {
        const whole = { key: `sha256:${"c".repeat(64)}`, part: 0 };
        const key = `follow:${"d".repeat(64)}`;
        await repo.add("web", [minute(0, 3)], whole);
        await repo.add("web", [minute(1, 4)], { key, start: 0, end: 300, inode: 7 });
        await repo.add("api", [minute(0, 5)], whole);
        assert.equal(await repo.deleteApp("web"), true);
        assert.equal(await repo.deleteApp("web"), false, "nothing left the second time");
        assert.deepEqual(await repo.minutes("web", T0, T0 + HOUR), []);
        assert.equal(await repo.checkpoint("web", key), null);
        assert.equal((await repo.add("web", [minute(0, 3)], whole)).duplicate, false);
        assert.equal(sumTotals(await repo.minutes("api", T0, T0 + HOUR)), 5);
      },
    "minutes are per app and the range is [from, to)": async (repo) => {
      await repo.add("web", [minute(0, 1), minute(1, 2), minute(2, 4)]);
      await repo.add("api", [minute(1, 100)]);
      const rows = await repo.minutes("web", T0 + MIN, T0 + 2 * MIN);
      assert.deepEqual(
        rows.map((r) => [r.minute, r.total]),
        [[T0 + MIN, 2]],
      );
      assert.equal(sumTotals(await repo.minutes("api", T0, T0 + HOUR)), 100);
      assert.deepEqual(await repo.minutes("nobody", T0, T0 + HOUR), []);
    },
    "hourly sums minutes by UTC hour and says how many minutes had data": async (repo) => {
      const batch: MinuteCounts[] = [];
      for (let m = 0; m < 60; m++) batch.push(minute(m, 2, 1, 0, 1, 0));
      batch.push(minute(60, 5, 0, 0, 0, 5), minute(119, 1));
      batch.push(minute(180, 9)); // hour 3; hour 2 has no data at all
      await repo.add("web", batch);
      const hours = await repo.hourly("web", T0, T0 + 4 * HOUR);
      assert.deepEqual(hours, [
        { hour: T0, total: 120, s2xx: 60, s3xx: 0, s4xx: 60, s5xx: 0, minutes: 60 },
        { hour: T0 + HOUR, total: 6, s2xx: 1, s3xx: 0, s4xx: 0, s5xx: 5, minutes: 2 },
        { hour: T0 + 3 * HOUR, total: 9, s2xx: 9, s3xx: 0, s4xx: 0, s5xx: 0, minutes: 1 },
      ]);
      const later = await repo.hourly("web", T0 + HOUR, T0 + 2 * HOUR);
      assert.deepEqual(
        later.map((h) => h.hour),
        [T0 + HOUR],
      );
    },
    "a whole-file part is accepted once per app": async (repo) => {
      const source = { key: `sha256:${"a".repeat(64)}`, part: 0 };
      assert.deepEqual(await repo.add("web", [minute(0, 3), minute(1, 4)], source), {
        accepted: 2,
        duplicate: false,
      });
      assert.deepEqual(await repo.add("web", [minute(0, 3), minute(1, 4)], source), {
        accepted: 0,
        duplicate: true,
      });
      assert.deepEqual(await repo.add("web", [minute(2, 5)], { ...source, part: 1 }), {
        accepted: 1,
        duplicate: false,
      });
      assert.equal((await repo.add("api", [minute(0, 3)], source)).duplicate, false);
      assert.equal(sumTotals(await repo.minutes("web", T0, T0 + HOUR)), 12);
    },
    "a followed range moves the checkpoint; a replay is a duplicate; an overlap is a conflict":
      async (repo) => {
        const key = `follow:${"b".repeat(64)}`;
        assert.equal(await repo.checkpoint("web", key), null);
        await repo.add("web", [minute(0, 3)], { key, start: 0, end: 300, inode: 42, path: "/x" });
        await repo.add("web", [minute(1, 4)], { key, start: 300, end: 700, inode: 42 });
        const checkpoint = await repo.checkpoint("web", key);
        assert.equal(checkpoint?.offset, 700);
        assert.equal(checkpoint?.inode, 42);
        assert.deepEqual(await repo.add("web", [minute(0, 3)], { key, start: 0, end: 300 }), {
          accepted: 0,
          duplicate: true,
        });
        await rejectsWith(
          repo.add("web", [minute(1, 9)], { key, start: 600, end: 900 }),
          "conflict",
        );
        assert.equal(sumTotals(await repo.minutes("web", T0, T0 + HOUR)), 7);
        assert.equal((await repo.checkpoint("web", key))?.offset, 700);
        assert.equal(await repo.checkpoint("api", key), null);
      },
    "an invalid batch stores nothing": async (repo) => {
      await rejectsWith(repo.add("web", [minute(0, 1), minute(1, -1)]), "bad_request");
      await rejectsWith(repo.add("web", [minute(0, 1), minute(1, 2, 2, 1)]), "bad_request");
      await rejectsWith(repo.add("web", [{ ...minute(0, 1), minute: T0 + 1 }]), "bad_request");
      await rejectsWith(repo.add("web", [minute(0, 1.5, 0)]), "bad_request");
      await rejectsWith(repo.add("web", [minute(0, 1)], { key: "has space" }), "bad_request");
      await rejectsWith(
        repo.add("web", [minute(0, 1)], { key: "k", start: 5, end: 4 }),
        "bad_request",
      );
      await rejectsWith(
        repo.add("web", [minute(0, 1)], { key: "k", part: 1, start: 0, end: 4 }),
        "bad_request",
      );
      assert.deepEqual(await repo.minutes("web", T0, T0 + HOUR), []);
      assert.equal(await repo.checkpoint("web", "k"), null);
    },
    "concurrent adds to the same minute all count": async (repo) => {
      await Promise.all(Array.from({ length: 20 }, () => repo.add("web", [minute(0, 1)])));
      assert.equal(sumTotals(await repo.minutes("web", T0, T0 + MIN)), 20);
    },
  };

  describe("TrafficRepo contract", () => {
    runCases(
      cases,
      async () => {
        const { repo, close } = await options.create();
        return { subject: repo, close: close };
      },
      options.skip,
    );
  });
}
