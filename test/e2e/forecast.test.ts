import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ApiClient } from "../../src/cli/client.js";
import { parseServerConfig } from "../../src/config/server-config.js";
import { createZone } from "../../src/forecast/service/zone.js";
import { startControlPlane, type ControlPlane } from "../../src/server/control-plane.js";
import type { EventsView, EventView, ForecastView } from "../../src/wire/forecast.js";
import type { TrafficSeries } from "../../src/wire/traffic.js";
import { postTraffic, randomLoopbackPrefix, waitFor } from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const H = 3_600_000;
const MINUTE = 60_000;
const berlin = createZone("Europe/Berlin");

/** Requests in one UTC minute: a daily cycle on Berlin time (peak 20:00), weekends at 70%. */
function truth(minute: number): number {
  const local = new Date(berlin.wall(minute));
  const hour = local.getUTCHours();
  const weekend = local.getUTCDay() === 0 || local.getUTCDay() === 6;
  return Math.round((40 + 30 * Math.cos((2 * Math.PI * (hour - 20)) / 24)) * (weekend ? 0.7 : 1));
}

const hourTruth = (start: number) => {
  let sum = 0;
  for (let m = 0; m < 60; m++) sum += truth(start + m * MINUTE);
  return sum;
};

describe("forecasts in the control plane, end to end", { timeout: 300_000 }, () => {
  let dir = "";
  let plane: ControlPlane;
  let client: ApiClient;
  let yaml = "";
  let listen = "";
  let balancerHost = "";

  const start = async () => {
    const config = parseServerConfig(yaml, "test", { dataDir: join(dir, "data"), listen });
    plane = await startControlPlane({ config });
    client = new ApiClient(plane.url, plane.adminToken);
    listen = new URL(plane.url).host;
  };
  const cli = async (...args: string[]) => {
    const env = { ...process.env, STRATA_SERVER: plane.url, STRATA_TOKEN: plane.adminToken };
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", CLI, ...args],
      {
        env,
      },
    );
    return stdout;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-e2e-forecast-"));
    const api = randomLoopbackPrefix();
    // The daily run is due from an hour ago (Berlin time) so that a restart catches it up.
    const due = Math.max(0, berlin.minuteOfDay(Date.now()) - 60);
    const at = `${String(Math.floor(due / 60)).padStart(2, "0")}:${String(due % 60).padStart(2, "0")}`;
    yaml = [
      `provider: { local: { address_prefix: "${randomLoopbackPrefix()}" } }`,
      `balancer: { host: "${api}.1" }`,
      `forecast: { zone: Europe/Berlin, at: "${at}", horizon: 48h, model: auto, min_history: 7d }`,
    ].join("\n");
    listen = `${api}.1:0`;
    balancerHost = `${api}.1`;
    await start();
  });
  after(async () => {
    await plane?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("too little history: the run is refused with how much there is", async () => {
    const minute = new Date(Math.floor(Date.now() / H) * H - 2 * H).toISOString();
    await client.post("/v1/apps/newapp/traffic", {
      minutes: [{ minute, total: 5, s2xx: 5, s3xx: 0, s4xx: 0, s5xx: 0 }],
    });
    await assert.rejects(
      client.post("/v1/apps/newapp/forecasts"),
      (err: Error & { code?: string }) =>
        err.code === "conflict" &&
        /newapp: 1 hour of traffic history .*at least 7 days/.test(err.message),
    );
  });

  test("three weeks of minutes posted to the traffic route give a forecast that follows them", async () => {
    const now = Date.now();
    const first = Math.floor(now / H) * H - 21 * 24 * H;
    await postTraffic(client, "hello", first, Math.floor(now / MINUTE) * MINUTE, truth);

    const run = await client.post<ForecastView>("/v1/apps/hello/forecasts");
    const origin = Math.floor(Date.now() / H) * H;
    assert.equal(run.origin, new Date(origin).toISOString());
    assert.equal(run.trigger, "manual");
    assert.equal(run.zone, "Europe/Berlin");
    assert.equal(run.history.hours_with_data, 21 * 24);
    assert.equal(run.hours.length, 48);
    let error = 0;
    let total = 0;
    run.hours.forEach((h, i) => {
      assert.equal(h.time, new Date(origin + i * H).toISOString());
      assert.ok(h.p90 >= h.mean);
      error += Math.abs(h.mean - hourTruth(origin + i * H));
      total += hourTruth(origin + i * H);
    });
    assert.ok(
      error / total < 0.05,
      `wMAPE ${((100 * error) / total).toFixed(1)}% with ${run.model}`,
    );
    assert.deepEqual(await client.get<ForecastView>("/v1/apps/hello/forecasts/latest"), run);
  });

  test("after a restart the daily run catches up: one forecast of its own, stored", async () => {
    const before = await client.get<ForecastView>("/v1/apps/hello/forecasts/latest");
    await plane.close();
    await start();
    const daily = await waitFor("the daily forecast", async () => {
      const latest = await client.get<ForecastView>("/v1/apps/hello/forecasts/latest");
      return latest.trigger === "daily" ? latest : null;
    });
    assert.ok(daily.id > before.id);
    assert.equal(daily.hours.length, 48);
  });

  test("an event multiplies its hours in the latest forecast; the CLI shows and removes it", async () => {
    const base = await client.get<ForecastView>("/v1/apps/hello/forecasts/latest");
    const origin = Date.parse(base.origin);
    const from = new Date(origin + 3 * H).toISOString();
    const to = new Date(origin + 5 * H).toISOString();
    const added = JSON.parse(
      await cli(
        "events",
        "add",
        "hello",
        "--from",
        from,
        "--to",
        to,
        "--factor",
        "1.8",
        "--note",
        "TV spot",
        "--json",
      ),
    ) as EventView;
    assert.deepEqual([added.from, added.to, added.factor, added.note], [from, to, 1.8, "TV spot"]);

    const shown = JSON.parse(await cli("forecast", "show", "hello", "--json")) as ForecastView;
    assert.equal(shown.id, base.id);
    shown.hours.forEach((h, i) => {
      const factor = i === 3 || i === 4 ? 1.8 : 1;
      assert.equal(h.factor, factor);
      // Both means are rounded to 0.1: round(m x f) and round(m) x f differ by up to 0.05 (1 + f).
      const slack = 0.05 * (1 + factor) + 1e-9;
      assert.ok(Math.abs(h.mean - base.hours[i]!.mean * factor) <= slack, `hour ${i}`);
    });
    assert.deepEqual(shown.events, [added]);
    const text = await cli("forecast", "show", "hello");
    assert.match(text, /^hello: forecast \d+ from \S+Z for 48 h, model /);
    assert.match(text, /TV spot/);
    assert.equal(text.match(/^\d{4}-\d\d-\d\dT\d\d:00Z\s/gm)?.length, 48);

    const listed = JSON.parse(await cli("events", "list", "hello", "--json")) as EventsView;
    assert.deepEqual(listed.events, [added]);
    await cli("events", "rm", "hello", String(added.id));
    const after = await client.get<ForecastView>("/v1/apps/hello/forecasts/latest");
    assert.deepEqual(after.hours, base.hours);
  });

  test("requests through the built-in balancer are stored as the traffic of the group's app", async () => {
    await plane.store.groups.ensure("web");
    await plane.store.groups.update("web", { app: "hello" });
    await plane.close();
    await start(); // the pool of "web" is opened at start
    const since = Math.floor(Date.now() / MINUTE) * MINUTE;
    const port = (await plane.store.groups.get("web"))?.balancer_port;
    assert.ok(port);
    for (let i = 0; i < 3; i++) {
      // No server is in service yet: the balancer answers 503, and counts it.
      const res = await fetch(`http://${balancerHost}:${port}/`);
      assert.equal(res.status, 503);
      await res.text();
    }
    await plane.close(); // flushes the minute in progress
    await start();
    const from = new Date(since).toISOString();
    const to = new Date(Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE).toISOString();
    const series = await client.get<TrafficSeries>(
      `/v1/apps/hello/traffic?from=${from}&to=${to}&step=minute`,
    );
    assert.equal(
      series.points.reduce((sum, p) => sum + p.s5xx, 0),
      3,
    );
  });
});
