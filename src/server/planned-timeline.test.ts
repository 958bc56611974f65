import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseServerConfig } from "../config/server-config.js";
import type { TimelineView } from "../wire/dashboard.js";
import { startControlPlane } from "./control-plane.js";

const octet = () => 10 + Math.floor(Math.random() * 240);

test("the timeline draws the scaler's plan ahead of now for a group with scaling", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-planned-"));
  const host = `127.${octet()}.${octet()}.1`;
  const config = parseServerConfig(
    [
      `balancer: { host: "${host}" }`,
      "scaling: { web: { capacity_per_server: 50, min: 2, max: 4, mode: forecast-only } }",
    ].join("\n"),
    "test",
    { dataDir: dir, listen: `${host}:0` },
  );
  const plane = await startControlPlane({ config });
  try {
    await plane.store.groups.ensure("web");
    await plane.store.groups.update("web", { app: "hello" });
    // A stored forecast of 48 hours from this hour: 90,000 requests an hour is 25/s, one server.
    const origin = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    await plane.store.forecasts.insert({
      app: "hello",
      origin,
      zone: "UTC",
      model: "seasonal-naive",
      createdAt: Date.now(),
      trigger: "manual",
      requestedModel: "auto",
      historyFrom: origin - 7 * 86_400_000,
      historyHours: 168,
      missingHours: 0,
      mean: Array.from({ length: 48 }, () => 90_000),
      p90: Array.from({ length: 48 }, () => 100_000),
    });
    const res = await plane.api.request("/v1/dashboard/timeline?group=web", {
      headers: { authorization: `Bearer ${plane.adminToken}` },
    });
    assert.equal(res.status, 200);
    const view = (await res.json()) as TimelineView;
    assert.ok(view.planned, "a planned series");
    const ahead = view.planned.time.filter((t) => t >= Date.now() - 3_600_000);
    assert.ok(ahead.length > 0, "steps ahead of now");
    // No forecast yet: the plan is the group's minimum.
    assert.ok(
      view.planned.count.every((n) => n === 2),
      view.planned.count.join(","),
    );
  } finally {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  }
});
