import assert from "node:assert/strict";
import { test } from "node:test";
import type { RequestCount } from "../balancer/balancer.js";
import { createSqliteStore } from "../store/sqlite/sqlite-store.js";
import { createSqliteTrafficRepo } from "../store/sqlite/traffic-repo.js";
import { createRequestCountRecorder } from "./request-counts.js";

const T0 = Date.UTC(2024, 2, 1, 9, 0);
const count = (group: string, minute: number, total: number): RequestCount => ({
  group,
  minute: T0 + minute * 60_000,
  total,
  s2xx: total - 1,
  s3xx: 0,
  s4xx: 0,
  s5xx: 1,
});

test("balancer minutes become the traffic of the group's app; groups without an app are dropped", async () => {
  const store = createSqliteStore({ path: ":memory:" });
  const traffic = createSqliteTrafficRepo(store.db);
  await store.groups.ensure("web");
  await store.groups.update("web", { app: "hello" });
  await store.groups.ensure("staging");
  const recorder = createRequestCountRecorder({ groups: store.groups, traffic });
  recorder.record(count("web", 0, 10));
  recorder.record(count("web", 1, 5));
  recorder.record(count("web", 1, 2)); // a second report of a minute adds up
  recorder.record(count("staging", 0, 99));
  recorder.record(count("unknown", 0, 99));
  await recorder.settle();
  const minutes = await traffic.minutes("hello", T0, T0 + 3_600_000);
  assert.deepEqual(
    minutes.map((m) => [m.minute - T0, m.total, m.s5xx]),
    [
      [0, 10, 1],
      [60_000, 7, 2],
    ],
  );
  const [hour] = await traffic.hourly("hello", T0, T0 + 3_600_000);
  assert.equal(hour?.total, 17);
  await store.close();
});

test("a minute that cannot be stored is reported, not thrown", async () => {
  const errors: string[] = [];
  const recorder = createRequestCountRecorder({
    groups: { get: async () => ({ name: "web", app: "hello" }) as never },
    traffic: {
      add: async () => {
        throw new Error("database is locked");
      },
    },
    onError: (err, counts) => void errors.push(`${counts.group}: ${(err as Error).message}`),
  });
  recorder.record(count("web", 0, 1));
  await recorder.settle();
  assert.deepEqual(errors, ["web: database is locked"]);
});
