import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`); never a downloaded one. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why browser tests cannot run here, or null. In CI (STRATA_REQUIRE_CHROMIUM=1) a missing Chromium fails. */
export function browserSkipReason(): string | null {
  if (existsSync(CHROMIUM) || process.env.STRATA_REQUIRE_CHROMIUM) return null;
  return `${CHROMIUM} is missing (apt-get install -y chromium; scripts/ci/chromium.sh)`;
}

/** Where the browser tests leave their screenshots. */
export const SCREENSHOT_DIR = fileURLToPath(
  new URL("../../test-output/screenshots", import.meta.url),
);

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh profile; every console error and page error is collected. */
export async function startBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), "strata-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1400, height: 900 },
    timezoneId: "UTC",
    locale: "en-GB",
    colorScheme: "light",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`page: ${err.message}`));
  // The console says only "Failed to load resource"; name the URL beside it.
  page.on("response", (res) => {
    if (res.status() >= 400) errors.push(`response: ${res.status()} ${res.url()}`);
  });
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    page,
    errors,
    async screenshot(name) {
      const path = join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
