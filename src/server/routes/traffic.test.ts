import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { Hono } from "hono";
import { createSqliteTrafficRepo } from "../../store/sqlite/traffic-repo.js";
import {
  MAX_TRAFFIC_MINUTES_PER_POST,
  type PostTrafficResponse,
  type TrafficCheckpointResponse,
  type TrafficSeries,
} from "../../wire/traffic.js";
import { trafficRoutes } from "./traffic.js";

const MIGRATION = readFileSync(
  new URL("../../store/sqlite/migrations/002-traffic.sql", import.meta.url),
  "utf8",
);

function minute(iso: string, total: number, s2xx = total, s3xx = 0, s4xx = 0, s5xx = 0) {
  return { minute: iso, total, s2xx, s3xx, s4xx, s5xx };
}

describe("traffic routes", () => {
  let db: Database.Database;
  let app: Hono;

  beforeEach(() => {
    db = new Database(":memory:");
    db.exec(MIGRATION);
    app = trafficRoutes({ traffic: createSqliteTrafficRepo(db) });
  });
  afterEach(() => db.close());

  const post = (path: string, body: unknown) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  async function expectError(res: Response, status: number, code: string): Promise<string> {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, code);
    assert.match(body.error.message, /^\[traffic\] /);
    return body.error.message;
  }

  test("posted minutes come back per minute and per hour, in UTC", async () => {
    const res = await post("/apps/web/traffic", {
      minutes: [
        minute("2024-03-01T09:00:00+09:00", 10, 7, 1, 1, 1),
        minute("2024-03-01T00:01:00Z", 5),
        minute("2024-03-01T01:00:00.000Z", 2, 0, 0, 2, 0),
      ],
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()) as PostTrafficResponse, { accepted: 3, duplicate: false });

    const perMinute = (await (
      await app.request("/apps/web/traffic?from=2024-03-01T00:00:00Z&to=2024-03-01T00:02:00Z")
    ).json()) as TrafficSeries;
    assert.equal(perMinute.step, "minute");
    assert.deepEqual(perMinute.points, [
      { time: "2024-03-01T00:00:00.000Z", total: 10, s2xx: 7, s3xx: 1, s4xx: 1, s5xx: 1 },
      { time: "2024-03-01T00:01:00.000Z", total: 5, s2xx: 5, s3xx: 0, s4xx: 0, s5xx: 0 },
    ]);

    const perHour = (await (
      await app.request(
        "/apps/web/traffic?from=2024-03-01T00:00:00Z&to=2024-03-01T03:00:00Z&step=hour",
      )
    ).json()) as TrafficSeries;
    assert.deepEqual(
      perHour.points.map((p) => [p.time, p.total, p.minutes]),
      [
        ["2024-03-01T00:00:00.000Z", 15, 2],
        ["2024-03-01T01:00:00.000Z", 2, 1],
      ],
    );
  });

  test("a source posted twice is a duplicate and counts once", async () => {
    const body = {
      source: { key: `sha256:${"c".repeat(64)}`, part: 0, path: "/var/log/access.log" },
      minutes: [minute("2024-03-01T00:00:00Z", 4)],
    };
    assert.deepEqual(await (await post("/apps/web/traffic", body)).json(), {
      accepted: 1,
      duplicate: false,
    });
    assert.deepEqual(await (await post("/apps/web/traffic", body)).json(), {
      accepted: 0,
      duplicate: true,
    });
    const series = (await (
      await app.request("/apps/web/traffic?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z")
    ).json()) as TrafficSeries;
    assert.equal(series.points[0]?.total, 4);
  });

  test("a followed range sets the checkpoint a follower resumes from", async () => {
    const key = `follow:${"d".repeat(64)}`;
    const res = await post("/apps/web/traffic", {
      source: { key, start: 0, end: 1234, inode: 77 },
      minutes: [minute("2024-03-01T00:00:00Z", 4)],
    });
    assert.equal(res.status, 200);
    const found = (await (
      await app.request(`/apps/web/traffic/checkpoint?key=${encodeURIComponent(key)}`)
    ).json()) as TrafficCheckpointResponse;
    assert.equal(found.checkpoint?.offset, 1234);
    assert.equal(found.checkpoint?.inode, 77);
    const none = (await (
      await app.request("/apps/web/traffic/checkpoint?key=follow:unknown")
    ).json()) as TrafficCheckpointResponse;
    assert.equal(none.checkpoint, null);

    const overlap = await post("/apps/web/traffic", {
      source: { key, start: 1000, end: 2000 },
      minutes: [minute("2024-03-01T00:05:00Z", 1)],
    });
    await expectError(overlap, 409, "conflict");
  });

  test("bad input is a 4xx JSON error and stores nothing", async () => {
    const ok = [minute("2024-03-01T00:00:00Z", 1)];
    await expectError(await post("/apps/Web!/traffic", { minutes: ok }), 400, "bad_request");
    await expectError(await post("/apps/web/traffic", "{not json"), 400, "bad_request");
    await expectError(await post("/apps/web/traffic", { minutes: "x" }), 400, "bad_request");
    await expectError(await post("/apps/web/traffic", { minutes: [null] }), 400, "bad_request");
    await expectError(
      await post("/apps/web/traffic", { minutes: ok, source: "k" }),
      400,
      "bad_request",
    );
    const zoneless = await post("/apps/web/traffic", {
      minutes: [minute("2024-03-01T00:00:00", 1)],
    });
    assert.match(await expectError(zoneless, 400, "bad_request"), /minutes\[0\]\.minute/);
    const unaligned = await post("/apps/web/traffic", {
      minutes: [minute("2024-03-01T00:00:30Z", 1)],
    });
    await expectError(unaligned, 400, "bad_request");
    const negative = await post("/apps/web/traffic", {
      minutes: [...ok, minute("2024-03-01T00:01:00Z", -1)],
    });
    await expectError(negative, 400, "bad_request");
    const tooMany = Array.from({ length: MAX_TRAFFIC_MINUTES_PER_POST + 1 }, () => ok[0]);
    await expectError(await post("/apps/web/traffic", { minutes: tooMany }), 413, "too_large");

    const series = (await (
      await app.request("/apps/web/traffic?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z")
    ).json()) as TrafficSeries;
    assert.deepEqual(series.points, []);
  });

  test("GET checks step, from and to", async () => {
    const q = (query: string) => app.request(`/apps/web/traffic?${query}`);
    await expectError(await q("to=2024-03-02T00:00:00Z"), 400, "bad_request");
    await expectError(
      await q("from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z"),
      400,
      "bad_request",
    );
    await expectError(
      await q("from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z&step=day"),
      400,
      "bad_request",
    );
    await expectError(
      await q("from=2024-01-01T00:00:00Z&to=2024-03-02T00:00:00Z"),
      400,
      "bad_request",
    );
    const hourly = await q("from=2024-01-01T00:00:00Z&to=2024-03-02T00:00:00Z&step=hour");
    assert.equal(hourly.status, 200);
    await expectError(await app.request("/apps/web/traffic/checkpoint"), 400, "bad_request");
  });
});
