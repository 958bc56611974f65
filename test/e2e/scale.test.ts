import assert from "node:assert/strict";
import http from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ApiClient } from "../../src/cli/client.js";
import { StrataError } from "../../src/lib/errors.js";
import { parseServerConfig } from "../../src/config/server-config.js";
import { createScaleExecutor, type ScaleExecutor } from "../../src/scale/executor.js";
import { createFleetPort } from "../../src/scale/fleet-port.js";
import { createLiveInputs } from "../../src/scale/live-inputs.js";
import { runScalePortContract } from "../../src/scale/scale-port.contract.js";
import type { PlanForecast } from "../../src/scale/planner.js";
import { DEFAULT_SCALING } from "../../src/scale/scale-config.js";
import { createSimClock, type SimClock } from "../../src/scale/sim-fleet.js";
import { startControlPlane, type ControlPlane } from "../../src/server/control-plane.js";
import type { PlanView, ScaleStatusView } from "../../src/wire/scale.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  status,
  variantOf,
  waitFor,
  waitForDeployment,
  waitForServing,
  launchJoined,
  startTestPlane,
  type TestPlane,
} from "./harness.js";

const M = 60_000;
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);

/**
 * The executor on a fake clock, acting on the real fleet: the local provider's agent
 * processes, the built-in balancer, FleetOps' drain. Forecast and observed traffic are set by
 * the test (they are the inputs), everything the executor acts on is real.
 */
describe(
  "scaling end to end (executor on a fake clock, local provider)",
  { timeout: 600_000 },
  () => {
    let dir = "";
    let yaml = "";
    let plane: ControlPlane;
    let client: ApiClient;
    let clock: SimClock;
    let executor: ScaleExecutor;
    let forecast: PlanForecast | null = null;
    let observed: number | null = null;
    let version = "";

    const serving = async () =>
      (await status(client)).servers.filter((s) => s.group === "web" && s.in_service);
    const tickAt = async (ms: number) => {
      clock.set(T0 + ms);
      return executor.tick();
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "strata-e2e-scale-"));
      yaml = [
        `provider: { local: { address_prefix: "127.20.1" } }`,
        `balancer: { host: "127.20.0.1" }`,
        "heartbeat_interval: 300ms",
        "heartbeat_timeout: 3s",
        "deploy: { server_timeout: 60s, drain_timeout: 5s }",
        "scaling: { web: { capacity_per_server: 10, mode: off, min: 1, max: 4 } }",
      ].join("\n");
      plane = await startControlPlane({
        config: parseServerConfig(yaml, "test", {
          dataDir: join(dir, "data"),
          listen: "127.20.0.1:0",
        }),
      });
      client = new ApiClient(plane.url, plane.adminToken);
      await launchJoined(client, "web", 1);
      version = (await build(client, EXAMPLE_APP, "1.0.0")).version;
      const d = await deployAndWait(client, { version });
      assert.equal(d.state, "succeeded", d.error ?? "");
      await waitForServing(client, "web", 1, version);

      clock = createSimClock(T0);
      const live = createLiveInputs({
        group: "web",
        store: plane.store,
        forecasts: { latest: async () => null },
      });
      executor = createScaleExecutor({
        group: "web",
        settings: {
          ...DEFAULT_SCALING,
          mode: "on",
          capacityPerServer: 10,
          targetUtilisation: 0.5,
          meanUtilisation: 0.5,
          min: 1,
          max: 4,
          leadTime: 5 * M,
          stabilisationMs: 0,
          intervalMs: M,
        },
        clock,
        port: createFleetPort({
          group: "web",
          store: plane.store,
          fleetOps: plane.fleetOps,
          currentImage: () => plane.images.imageFor("web"),
        }),
        inputs: {
          forecast: async () => forecast,
          peakRatios: async () => [],
          observedRate: async () => observed,
          launchLags: live.launchLags,
          deploymentRunning: live.deploymentRunning,
        },
        audit: (action, subject, detail) =>
          plane.store.audit.append({ at: Date.now(), actor: "test", action, subject, detail }),
      });
    });
    after(async () => {
      await plane?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test("a planned launch starts one lead time before its hour; the server joins on the desired release", async () => {
      // 5 req/s needs 1 server at 0.5 of 10 req/s; 01:00 expects 10 req/s: 2.
      forecast = { start: T0, stepMs: H, mean: [5 * 3600, 10 * 3600], p90: [5 * 3600, 10 * 3600] };
      assert.equal((await tickAt(54 * M)).action, "hold");
      const d = await tickAt(55 * M);
      assert.equal(d.action, "launch");
      assert.equal(d.count, 1);
      assert.match(d.reason, /^plan 01:00/);
      await waitForServing(client, "web", 2, version);
      const audited = await plane.store.audit.list({ subject: "web" });
      assert.ok(
        audited.some(
          (a) => a.action === "scale.launch" && /plan 01:00/.test(String(a.detail.reason)),
        ),
      );
    });

    test("a surge the forecast missed triggers the guard at once", async () => {
      observed = 30; // 2 servers at 10 req/s: 150% against a 50% target -> 6, clamped to max 4
      const d = await tickAt(70 * M);
      assert.equal(d.action, "launch");
      assert.equal(d.count, 2);
      assert.match(d.reason, /^guard: observed 30\.0 req\/s/);
      await waitForServing(client, "web", 4, version);
      // The lead time is now measured from the real launches' service-in lag.
      const lags = await createLiveInputs({
        group: "web",
        store: plane.store,
        forecasts: { latest: async () => null },
      }).launchLags();
      assert.ok(lags.length >= 3 && lags.every((l) => l >= 0), `lags ${lags}`);
    });

    test("a scale-in under load drops no request: a client without pause through the balancer", async () => {
      const lb = (await status(client)).groups.find((g) => g.name === "web")?.balancer;
      assert.ok(lb);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      let ok = 0;
      const failures: string[] = [];
      let running = true;
      const load = (async () => {
        while (running) {
          await new Promise<void>((resolve) => {
            const req = http.get(`http://${lb}/`, { agent }, (res) => {
              res.resume();
              res.on("end", () => {
                if (res.statusCode === 200) ok++;
                else failures.push(`HTTP ${res.statusCode}`);
                resolve();
              });
            });
            req.on("error", (err) => {
              failures.push(err.message);
              resolve();
            });
          });
        }
      })();
      await waitFor("requests flowing", async () => ok > 20);
      forecast = {
        start: T0,
        stepMs: H,
        mean: [5 * 3600, 5 * 3600, 5 * 3600],
        p90: [5 * 3600, 5 * 3600, 5 * 3600],
      };
      observed = 5; // 12.5% of 4 servers against 50%: 1
      const d = await tickAt(80 * M);
      assert.equal(d.action, "retire");
      assert.equal(d.count, 3);
      assert.equal(d.acted, true);
      const before = ok;
      await waitFor("more requests after the scale-in", async () => ok > before + 20);
      running = false;
      await load;
      agent.destroy();
      assert.deepEqual(failures, [], `${failures.length} failed of ${ok + failures.length}`);
      assert.equal((await serving()).length, 1);
    });

    test("during a deployment: launched servers end on the desired release, scale-in holds", async () => {
      // A release whose before_switch hook takes a while keeps its deployment running.
      const slow = (v: string) =>
        variantOf(dir, {
          "message.txt": `version ${v}\n`,
          "hooks/check.sh": "#!/bin/sh\nsleep 2\n",
        });
      const v2 = (await build(client, await slow("2"), "2.0.0")).version;
      const started = await client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        group: "web",
        version: v2,
      });
      observed = 30; // 1 server: 300% -> 6, clamped to 4
      const out = await tickAt(90 * M);
      assert.equal(out.action, "launch");
      assert.equal(out.count, 3);
      assert.equal((await waitForDeployment(client, started.id)).state, "succeeded");
      // Regression: servers launched while a deployment ran stayed on the old release after it succeeded.
      await waitForServing(client, "web", 4, v2);

      const v3 = (await build(client, await slow("3"), "3.0.0")).version;
      const third = await client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        group: "web",
        version: v3,
      });
      observed = 5; // 4 servers at 12.5%: wants 1
      const held = await tickAt(100 * M);
      assert.equal(held.action, "hold");
      assert.match(held.reason, /^deployment running: scale-in held/);
      assert.equal((await serving()).length >= 3, true, "nothing retired");
      assert.equal((await waitForDeployment(client, third.id)).state, "succeeded");
      const after = await tickAt(101 * M);
      assert.equal(after.action, "retire");
      assert.equal(after.count, 3);
    });

    test("the API shows the configured group's plan and status and switches its mode", async () => {
      const plan = await client.get<PlanView>("/v1/scale/web/plan");
      assert.equal(plan.group, "web");
      assert.equal(plan.forecast, false);
      assert.equal(plan.min, 1);
      const st = await client.request<ScaleStatusView>("PUT", "/v1/scale/web/mode", {
        mode: "forecast-only",
      });
      assert.equal(st.mode, "forecast-only");
      const shown = await client.get<ScaleStatusView>("/v1/scale/web/status");
      assert.equal(shown.mode, "forecast-only");
      assert.equal(shown.forecaster, null, "no backtest without 8 days of traffic");
      await assert.rejects(
        client.request("PUT", "/v1/scale/web/mode", { mode: "sometimes" }),
        (err: unknown) =>
          err instanceof StrataError && err.code === "bad_request" && /mode/.test(err.message),
      );
      await assert.rejects(
        client.get("/v1/scale/db/status"),
        (err: unknown) => err instanceof StrataError && err.code === "not_found",
      );
    });

    test("a mode set at run time survives a restart while strata.yaml's mode is unchanged", async () => {
      await plane.close();
      plane = await startControlPlane({
        config: parseServerConfig(yaml, "test", {
          dataDir: join(dir, "data"),
          listen: "127.20.0.1:0",
        }),
      });
      client = new ApiClient(plane.url, plane.adminToken);
      assert.equal(
        (await client.get<ScaleStatusView>("/v1/scale/web/status")).mode,
        "forecast-only",
      );
    });
  },
);

describe(
  "ScalePort contract on the live fleet (FleetOps, local provider)",
  { timeout: 300_000 },
  () => {
    let t: TestPlane;
    before(async () => {
      t = await startTestPlane({ apiPrefix: "127.20.0", serverPrefix: "127.20.2" });
      await launchJoined(t.client, "pool", 1);
      const { version } = await build(t.client, EXAMPLE_APP, "1.0.0");
      const d = await deployAndWait(t.client, { version, group: "pool" });
      assert.equal(d.state, "succeeded", d.error ?? "");
      // The group keeps its desired release: servers the contract launches join on it.
      await t.plane.fleetOps.down("pool");
    });
    after(async () => {
      await t?.close();
    });
    runScalePortContract("FleetOps", {
      create: async () => {
        const port = createFleetPort({
          group: "pool",
          store: t.plane.store,
          fleetOps: t.plane.fleetOps,
          currentImage: () => t.plane.images.imageFor("pool"),
        });
        return {
          subject: {
            port,
            settle: (what, ready) =>
              waitFor(what, async () => ready(await port.snapshot())).then(() => undefined),
          },
          close: async () => void (await t.plane.fleetOps.down("pool")),
        };
      },
    });
  },
);
