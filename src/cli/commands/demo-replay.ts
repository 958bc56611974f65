import http from "node:http";
import { rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseServerConfig } from "../../config/server-config.js";
import { createScaledClock } from "../../lib/clock.js";
import { readTrace, STEP_MS } from "../../scale/simulate.js";
import type { ControlPlane } from "../../server/control-plane.js";
import type { ForecastView } from "../../wire/forecast.js";
import type { PlanView, ScaleStatusView } from "../../wire/scale.js";
import type { StatusView } from "../../wire/server.js";
import type { TrafficMinute } from "../../wire/traffic.js";
import { ApiClient } from "../client.js";
import { progress } from "../output.js";

const TRACE = fileURLToPath(
  new URL("../../../examples/traces/nasa-1995-07-05-to-12.csv", import.meta.url),
);
const M = 60_000;
const DAY = 86_400_000;
/** Servers the replayed day's busiest 5 minutes need at utilisation 0.7. */
const PEAK_SERVERS = 5;
/** Real requests per second through the balancer at the day's busiest minute. */
const PEAK_REAL_RPS = 20;

export interface ReplayOptions {
  dataDir: string;
  listen: string;
  /** Real minutes the replayed day takes. */
  minutes: number;
  signal: AbortSignal;
  /** The demo's own steps, shared with the default demo. */
  steps: {
    waitForAgents(client: ApiClient, count: number, signal: AbortSignal): Promise<void>;
    buildAndDeploy(client: ApiClient, signal: AbortSignal): Promise<void>;
    closeQuietly(plane: ControlPlane): Promise<void>;
  };
}

/**
 * `strata demo --replay`: a real day of NASA traffic (examples/traces, 7 days of history
 * before it) through the load balancer in compressed time. Forecast and scaling run on a
 * clock `1440 / minutes` times faster than the wall; everything else is the real control
 * plane, local servers and balancer, so the forecast, the plan and the fleet follow the day.
 */
export async function runReplay(o: ReplayOptions): Promise<void> {
  await rm(o.dataDir, { recursive: true, force: true });
  const trace = await readTrace(TRACE, { timeColumn: "timestamp", valueColumn: "request_count" });
  const perDay = DAY / STEP_MS;
  const historySteps = trace.counts.length - perDay;
  const day = trace.counts.slice(historySteps);
  const peakRate = Math.max(...day) / 300;
  const capacity = +(peakRate / (PEAK_SERVERS * 0.7)).toFixed(3);
  // The replayed day is tomorrow (UTC, the zone the forecast uses), so the balancer's
  // real-time counts of the replay's requests fall into the history, never into the
  // minutes the guard reads; hours of day stay those of the trace's clock.
  const dayStart = Math.floor(Date.now() / DAY) * DAY + DAY;
  const speed = 1440 / o.minutes;
  const clock = createScaledClock(dayStart, speed);
  // Servers take the /24 after the API's loopback address; the balancer listens beside the API.
  const host = o.listen.split(":")[0] ?? "127.0.0.1";
  const octets = host.split(".");
  const prefix =
    octets.length === 4 && octets[0] === "127"
      ? `127.${octets[1]}.${(Number(octets[2]) + 1) % 256}`
      : "127.0.1";
  const yaml = [
    `provider: { local: { address_prefix: "${prefix}" } }`,
    `balancer: { host: "${octets.length === 4 ? host : "127.0.0.1"}" }`,
    "forecast: { daily: false }",
    "scaling:",
    "  web:",
    `    capacity_per_server: ${capacity}`,
    "    mode: on",
    `    min: 1`,
    `    max: ${PEAK_SERVERS + 1}`,
    "    lead_time: 10m",
    "    scale_in_stabilisation: 20m",
    "    interval: 1m",
  ].join("\n");
  const config = parseServerConfig(yaml, "demo --replay", { dataDir: o.dataDir, listen: o.listen });
  const { startControlPlane } = await import("../../server/control-plane.js");
  const plane = await startControlPlane({ config, planningClock: clock });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const client = new ApiClient(plane.url, plane.adminToken);
    progress(`control plane on ${plane.url} (data in ${o.dataDir})`);
    await client.post("/v1/fleet/up", { group: "web", count: 1 });
    await o.steps.waitForAgents(client, 1, o.signal);
    await o.steps.buildAndDeploy(client, o.signal);
    if (o.signal.aborted) return;

    progress(`posting 7 days of NASA traffic (1995-07-05 to 07-11) as hello's history...`);
    const historyStart = dayStart - 7 * DAY;
    const minutes: TrafficMinute[] = [];
    for (let i = 0; i < historySteps; i++)
      minutes.push(...spread(trace.counts[i] as number, historyStart + i * STEP_MS));
    for (let i = 0; i < minutes.length; i += 5000)
      await client.post("/v1/apps/hello/traffic", { minutes: minutes.slice(i, i + 5000) });
    const forecast = await client.post<ForecastView>("/v1/apps/hello/forecasts");
    const plan = await client.get<PlanView>("/v1/scale/web/plan");
    progress(
      `forecast of 1995-07-12 by ${forecast.model}; capacity ${capacity} req/s per server ` +
        `(the day's peak needs ${PEAK_SERVERS} at 0.7); planned servers per hour: ` +
        plan.steps.map((s) => s.servers).join(" "),
    );
    progress(
      `replaying the day in ${o.minutes} minutes (${speed}x), ${PEAK_REAL_RPS} req/s through the balancer at its peak`,
    );

    const lb = (await client.get<StatusView>("/v1/status")).groups.find(
      (g) => g.name === "web",
    )?.balancer;
    const peakMinute = Math.max(...day) / 5;
    const realPerTrace = (PEAK_REAL_RPS * (60 / speed)) / peakMinute;
    const load = { ok: 0, failed: 0, errors: new Map<string, number>() };
    const inFlight = new Set<Promise<void>>();
    clock.begin();
    for (let m = 0; m < 1440 && !o.signal.aborted; m++) {
      const end = dayStart + (m + 1) * M;
      const wait = (end - clock.now()) / speed;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const count = (day[Math.floor(m / 5)] as number) / 5;
      await client.post("/v1/apps/hello/traffic", {
        minutes: spread(count * 5, dayStart + Math.floor(m / 5) * STEP_MS).slice(
          m % 5,
          (m % 5) + 1,
        ),
      });
      for (let k = 0; k < Math.round(count * realPerTrace); k++) {
        const p = request(`http://${lb}/`, agent, load).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      if ((m + 1) % 60 === 0) {
        const s = await client.get<ScaleStatusView>("/v1/scale/web/status");
        const last = s.recent[0];
        const hour = (m + 1) / 60 - 1;
        const hh = String(hour).padStart(2, "0");
        const rate = day.slice(hour * 12, hour * 12 + 12).reduce((a, b) => a + b, 0) / 3600;
        progress(
          `${hh}:00-${hh}:59  traffic ${rate.toFixed(2)} req/s  planned ${s.last?.planned ?? "-"}  ` +
            `in service ${s.in_service}  launching ${s.launching}` +
            (last
              ? `  last: ${last.action} ${last.count} at ${last.at.slice(11, 16)} (${last.reason.slice(0, 70)})`
              : ""),
        );
      }
    }
    await Promise.all(inFlight);
    const status = await client.get<ScaleStatusView>("/v1/scale/web/status");
    const launches = status.recent.filter((d) => d.action === "launch").length;
    const retires = status.recent.filter((d) => d.action === "retire").length;
    console.log(
      `\nreplayed 1995-07-12: ${load.ok} requests through the balancer, ${load.failed} failed; ` +
        `${launches} launches and ${retires} retirements, each with its reason in the audit log ` +
        `(GET ${plane.url}/v1/audit)`,
    );
    for (const [message, n] of load.errors) console.log(`  ${n} x ${message}`);
  } finally {
    agent.destroy();
    progress("stopping servers and the control plane...");
    await o.steps.closeQuietly(plane);
  }
}

/** A 5-minute count as 5 whole minutes that add up to it. */
function spread(count: number, start: number): TrafficMinute[] {
  const total = Math.round(count);
  return Array.from({ length: 5 }, (_, k) => {
    const n = Math.floor(total / 5) + (k < total % 5 ? 1 : 0);
    return {
      minute: new Date(start + k * M).toISOString(),
      total: n,
      s2xx: n,
      s3xx: 0,
      s4xx: 0,
      s5xx: 0,
    };
  });
}

function request(
  url: string,
  agent: http.Agent,
  load: { ok: number; failed: number; errors: Map<string, number> },
): Promise<void> {
  const fail = (message: string) => {
    load.failed++;
    load.errors.set(message, (load.errors.get(message) ?? 0) + 1);
  };
  return new Promise((resolve) => {
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode === 200) load.ok++;
        else fail(`HTTP ${res.statusCode}`);
        resolve();
      });
    });
    req.on("error", (err) => {
      fail(err.message);
      resolve();
    });
  });
}
