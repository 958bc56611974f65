import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseServerConfig } from "../../config/server-config.js";
import { startControlPlane } from "../../server/control-plane.js";
import { ApiClient } from "../client.js";
import { dashboardInfo } from "./dashboard.js";

test("strata dashboard reports the URL, the token file and whether the build is there", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-dashboard-cli-"));
  const config = parseServerConfig(`balancer: { host: "127.30.2.4" }`, "test", {
    dataDir: join(dir, "data"),
    listen: "127.30.2.4:0",
  });
  const plane = await startControlPlane({ config, webDir: join(dir, "not-built") });
  try {
    const info = await dashboardInfo(new ApiClient(plane.url, plane.adminToken));
    assert.deepEqual(info, {
      url: plane.url + "/",
      token_file: join(plane.dataDir, "admin-token"),
      built: false,
    });
  } finally {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  }
});
