import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { build as viteBuild } from "vite";
import { browserSkipReason, startBrowser, type TestBrowser } from "./browser.js";
import { startTestPlane, status, waitFor, type TestPlane } from "./harness.js";

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
      await t.client.post("/v1/fleet/up", { group: "web", count: 3 });
      await waitFor("3 agents to join", async () => {
        const s = await status(t.client);
        return s.servers.length === 3 && s.servers.every((x) => x.last_heartbeat);
      });
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
      assert.deepEqual(
        browser.errors.map((e) => /status of 401/.test(e)),
        [true, true],
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
      await browser.screenshot("fleet");
    });

    test("no errors in the browser console", () => {
      assert.deepEqual(browser.errors, []);
    });
  },
);
