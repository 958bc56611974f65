import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { build as viteBuild } from "vite";
import { trafficApiOf } from "../../src/cli/ingest-run.js";
import { emptyServer } from "../../src/fleet/fleet.js";
import { uploadCountsCsv } from "../../src/traffic/upload.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { ForecastView } from "../../src/wire/forecast.js";
import { browserSkipReason, startBrowser, type TestBrowser } from "./browser.js";
import {
  EXAMPLE_APP,
  build,
  startTestPlane,
  variantOf,
  waitFor,
  waitForDeployment,
  type TestPlane,
  launchJoined,
} from "./harness.js";

const HOUR_MS = 3_600_000;

/** Two weeks of hourly counts with a daily swell, as a counts CSV (what `strata ingest --counts` reads). */
function countsCsv(now: number): string {
  const end = Math.floor(now / HOUR_MS) * HOUR_MS;
  const lines = ["time,requests"];
  for (let t = end - 14 * 24 * HOUR_MS; t < end; t += HOUR_MS) {
    const hour = new Date(t).getUTCHours();
    const noise = 0.8 + (0.4 * (((t / HOUR_MS) * 7919) % 101)) / 100; // deterministic, ±20 %
    const requests = Math.round(noise * (3000 + 2400 * Math.sin(((hour - 8) / 24) * 2 * Math.PI)));
    lines.push(`${new Date(t).toISOString()},${requests}`);
  }
  return lines.join("\n") + "\n";
}

interface Canvas {
  width: number;
  height: number;
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  } | null;
}

/** Pixels of the chart's (transparent) canvas within `tolerance` of an RGBA colour (alpha 0-255). */
async function pixelsNear(
  browser: TestBrowser,
  selector: string,
  rgba: [number, number, number, number],
  tolerance = 14,
): Promise<number> {
  return browser.page.evaluate(
    ({ selector, rgba, tolerance }) => {
      const page = globalThis as unknown as {
        document: { querySelector(s: string): Canvas | null };
      };
      const canvas = page.document.querySelector(selector);
      if (!canvas) return -1;
      const { data } = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        let close = true;
        for (let c = 0; c < 4; c++) close &&= Math.abs(data[i + c]! - rgba[c]!) <= tolerance;
        if (close) n++;
      }
      return n;
    },
    { selector, rgba, tolerance },
  );
}

const VITE_CONFIG = fileURLToPath(new URL("../../src/web/vite.config.ts", import.meta.url));

/** Builds the dashboard from the current sources, so the test never sees a stale dist/. */
async function buildDashboard(outDir: string): Promise<void> {
  await viteBuild({
    configFile: VITE_CONFIG,
    logLevel: "error",
    build: { outDir, emptyOutDir: true },
  });
}

describe(
  "dashboard in Chromium (control plane + 3 agent processes)",
  { timeout: 600_000, skip: browserSkipReason() ?? false },
  () => {
    let t: TestPlane;
    let browser: TestBrowser;

    before(async () => {
      const webDir = join(
        await import("node:os").then((os) => os.tmpdir()),
        `strata-web-${process.pid}`,
      );
      await buildDashboard(webDir);
      t = await startTestPlane({ apiPrefix: "127.30.0", serverPrefix: "127.30.1", webDir });
      await launchJoined(t.client, "web", 3);
      browser = await startBrowser();
    });
    after(async () => {
      await browser?.close();
      await t?.close();
    });

    test("nothing is served without the admin token", async () => {
      for (const path of ["/v1/status", "/v1/events", "/v1/dashboard/timeline?group=web"]) {
        const res = await fetch(t.plane.url + path);
        assert.equal(res.status, 401, path);
        await res.body?.cancel();
      }
      const forged = await fetch(t.plane.url + "/v1/status", {
        headers: { cookie: "strata_session=not-a-session" },
      });
      assert.equal(forged.status, 401);
      const { page } = browser;
      await page.goto(t.plane.url + "/");
      await page.getByLabel("Admin token").waitFor();
      assert.match(
        await page.locator(".token-file").innerText(),
        new RegExp(`${t.plane.dataDir}/admin-token$`),
      );
      const fromPage = await page.evaluate(async () => (await fetch("/v1/status")).status);
      assert.equal(fromPage, 401, "the page cannot read state before sign-in");
      assert.equal(await page.locator("[data-server]").count(), 0);
      await browser.screenshot("sign-in");
    });

    test("a wrong token is refused; the admin token signs in with an HttpOnly cookie", async () => {
      const { page } = browser;
      await page.getByLabel("Admin token").fill("wrong-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "wrong admin token" }).waitFor();
      await page.getByLabel("Admin token").fill(t.plane.adminToken);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("navigation", { name: "Views" }).waitFor();
      const cookies = await browser.context.cookies(t.plane.url);
      const session = cookies.find((c) => c.name === "strata_session");
      assert.ok(session, "a session cookie is set");
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, "Strict");
      assert.equal(await page.evaluate("document.cookie"), "", "not readable by scripts");
      // The two refusals above (the page's own fetch, the wrong token) are the only errors so far.
      assert.ok(browser.errors.length > 0);
      assert.ok(
        browser.errors.every((e) => /401/.test(e)),
        browser.errors.join("\n"),
      );
      browser.errors.length = 0;
    });

    test("the fleet view lists the servers", async () => {
      const { page } = browser;
      await page.goto(t.plane.url + "/#/fleet");
      for (const name of ["web-1", "web-2", "web-3"]) {
        await page.locator(`[data-server="${name}"]`).waitFor();
      }
      assert.equal(await page.getByTestId("server-count").innerText(), "3");
    });

    test("a deploy started through the API shows up live and reaches success without a reload", async () => {
      const { page } = browser;
      await build(t.client, EXAMPLE_APP, "1.0.0");
      await page.goto(t.plane.url + "/#/deployments");
      await page.getByText("No deployments yet").waitFor();
      await page.evaluate("window.__notReloaded = true");
      // What `strata deploy hello@1.0.0 --group web --batch 2` sends.
      const started = await t.client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        version: "1.0.0",
        group: "web",
        batch: "2",
      });
      await page.locator(`tr[data-deployment="${started.id}"]`).waitFor({ timeout: 60_000 });
      const detail = page.getByTestId("deployment-detail");
      await detail.and(page.locator('[data-state="succeeded"]')).waitFor({ timeout: 120_000 });
      assert.equal((await waitForDeployment(t.client, started.id)).state, "succeeded");
      assert.equal(await page.evaluate("window.__notReloaded"), true, "the page did not reload");
      for (const name of ["web-1", "web-2", "web-3"]) {
        const row = page.locator(`tr[data-deploy-server="${name}"]`);
        assert.equal(await row.getAttribute("data-state"), "succeeded", name);
        assert.match(await row.innerText(), /health_check/);
      }
      await browser.screenshot("deployments");
    });

    test("a failing hook shows its output and the rollback, live", async () => {
      const { page } = browser;
      const yaml = await readFile(join(EXAMPLE_APP, "strata.yaml"), "utf8");
      const broken = yaml.replace(
        /after_switch: .*/,
        "after_switch: echo migration 42 failed >&2; exit 3",
      );
      const dir = await variantOf(t.dir, { "strata.yaml": broken, "message.txt": "bad hook\n" });
      await build(t.client, dir, "1.1.0");
      await page.goto(t.plane.url + "/#/deployments");
      await page.locator("tr[data-deployment]").first().waitFor();
      const started = await t.client.post<DeploymentView>("/v1/deployments", {
        app: "hello",
        version: "1.1.0",
        group: "web",
        batch: "2",
      });
      await page.locator(`tr[data-deployment="${started.id}"] a`).click();
      const detail = page.getByTestId("deployment-detail");
      await detail.and(page.locator('[data-state="rolled_back"]')).waitFor({ timeout: 120_000 });
      await detail.getByText("migration 42 failed").first().waitFor();
      await detail.getByText(/^Rolled back:/).waitFor();
      await browser.screenshot("deployment-rolled-back");
    });

    test("the timeline draws observed traffic and the forecast band from ingested data", async () => {
      const { page } = browser;
      const csv = join(t.dir, "counts.csv");
      await writeFile(csv, countsCsv(Date.now()));
      const counts = await uploadCountsCsv({
        api: trafficApiOf(t.client),
        app: "hello",
        path: csv,
        timeColumn: "time",
        valueColumn: "requests",
      });
      assert.equal(counts.hours, 14 * 24);
      const forecast = await t.client.post<ForecastView>("/v1/apps/hello/forecasts");
      assert.equal(forecast.hours.length, 48);

      await page.goto(t.plane.url + "/#/timeline");
      const legend = page.getByTestId("legend-forecast");
      await legend.filter({ hasText: "forecast mean and p90 band" }).waitFor();
      assert.match(await page.getByTestId("legend-observed").innerText(), /[1-9]\d* points/);
      const canvas = ".chart .uplot canvas";
      await waitFor("observed traffic drawn", async () =>
        (await pixelsNear(browser, canvas, [31, 90, 166, 255])) > 100 ? true : null,
      );
      await browser.screenshot("timeline");
      // The p90 band: rgba(123, 63, 176, 0.16) on the transparent canvas.
      const band = await pixelsNear(browser, canvas, [123, 63, 176, 41], 6);
      assert.ok(band > 500, `forecast band drawn (${band} pixels)`);
      // Zoom by keyboard: three halvings of 9 days come under 2 days, where counts come per minute.
      await page.getByLabel(/^Timeline chart/).focus();
      for (let i = 0; i < 3; i++) await page.keyboard.press("+");
      await page.getByText(/, per minute\.$/).waitFor();
      await page.getByLabel(/^Timeline chart/).press("0");
      await page.getByText(/, hourly averages\.$/).waitFor();
      // Zoom by dragging across a fifth of the 9 days: under 2 days again.
      const box = (await page.locator(".timeline-chart .u-over").boundingBox())!;
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width * 0.4, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.6, y, { steps: 5 });
      await page.mouse.up();
      await page.getByText(/, per minute\.$/).waitFor();
    });

    test("the other views render their data", async () => {
      const { page } = browser;
      await page.goto(t.plane.url + "/#/fleet");
      await page.locator('[data-server="web-3"]').filter({ hasText: "1.0.0" }).waitFor();
      await browser.screenshot("fleet");

      await page.goto(t.plane.url + "/#/images");
      await page.locator('tr[data-release="1.0.0"]').filter({ hasText: "3 servers" }).waitFor();
      await browser.screenshot("images");

      await page.goto(t.plane.url + "/#/forecasts");
      await page.getByTestId("forecast-hello").waitFor();
      await browser.screenshot("forecasts");

      await page.goto(t.plane.url + "/#/audit");
      await page.locator('tr[data-action="deploy.succeeded"]').waitFor();
      await page.getByLabel("Kind").selectOption("server");
      await page.locator('tr[data-action="server.in_service"]').first().waitFor();
      assert.equal(await page.locator('tr[data-action="deploy.succeeded"]').count(), 0);
      await page.getByLabel("Kind").selectOption("all");
      await browser.screenshot("audit");
    });

    test("after a control-plane restart the page reconnects by itself and stays live", async () => {
      const { page } = browser;
      await page.goto(t.plane.url + "/#/fleet");
      await page.locator('[data-server="web-3"]').waitFor();
      await page.evaluate("window.__notReloaded = true");
      const before = browser.errors.length;
      await t.restart();
      await page.locator(".connection").filter({ hasText: "live" }).waitFor();
      // While the server was down the browser logged its refused reconnects; nothing else.
      const during = browser.errors.splice(before);
      assert.ok(
        during.every((e) => /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|net::/.test(e)),
        during.join("\n"),
      );
      await t.client.post("/v1/fleet/scale", { group: "web", count: 4 });
      await page.locator('[data-server="web-4"]').waitFor();
      assert.equal(await page.evaluate("window.__notReloaded"), true, "the page did not reload");
    });

    test("a thousand servers: only the rows in view are in the page, and the last is reachable", async () => {
      const { page } = browser;
      // Records only (no processes): the fleet view reads what the store holds.
      const now = Date.now();
      await t.plane.store.groups.ensure("big");
      for (let i = 1; i <= 1000; i++) {
        await t.plane.store.servers.insert({
          ...emptyServer(`big-${i}`, "big", `127.30.9.${i % 250}`, now, null),
          state: i % 100 === 0 ? "failed" : "ready",
          // No agents behind these records: a heartbeat ahead of now keeps the sweep from calling
          // them offline while 1,000 inserts run (regression: under load they all went offline).
          last_heartbeat: now + 3_600_000,
        });
      }
      // The records went in behind the API (no event): load the page afresh, since a goto
      // that changes only the hash keeps the list an earlier test loaded.
      await page.goto(t.plane.url + "/#/fleet");
      await page.reload();
      await page.getByLabel("Group").selectOption("big");
      await page.getByTestId("server-count").filter({ hasText: "1000" }).waitFor();
      const rendered = await page.locator("[data-server]").count();
      assert.ok(rendered > 0 && rendered < 100, `${rendered} rows in the DOM`);
      // Problems first: the ten failed servers lead the list.
      assert.equal(
        await page.locator("[data-server]").first().getAttribute("data-server"),
        "big-100",
      );
      const rows = page.getByLabel("Server rows (scroll with arrow keys)");
      await rows.focus();
      await page.keyboard.press("End");
      await page.locator('[data-server="big-999"]').waitFor();
      assert.ok((await page.locator("[data-server]").count()) < 100);
    });

    test("no errors in the browser console", () => {
      assert.deepEqual(browser.errors, []);
    });
  },
);
