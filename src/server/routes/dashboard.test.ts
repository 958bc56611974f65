import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test } from "node:test";
import { parseServerConfig } from "../../config/server-config.js";
import type { DashboardEvent, SessionView, TimelineView } from "../../wire/dashboard.js";
import { startControlPlane, type ControlPlane } from "../control-plane.js";

/** Reads server-sent events from a streaming response until `enough` says stop. */
async function readEvents(
  res: Response,
  enough: (events: { id: string; event: string; data: DashboardEvent }[]) => boolean,
): Promise<{ id: string; event: string; data: DashboardEvent }[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: { id: string; event: string; data: DashboardEvent }[] = [];
  let buffer = "";
  try {
    while (!enough(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) =>
          block
            .split("\n")
            .find((l) => l.startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trim();
        const data = field("data");
        if (data)
          events.push({
            id: field("id") ?? "",
            event: field("event") ?? "",
            data: JSON.parse(data),
          });
      }
    }
  } finally {
    await reader.cancel();
  }
  return events;
}

describe("dashboard routes (in-process requests to a real control plane)", () => {
  let plane: ControlPlane;
  let dir: string;
  let cookie = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-dashboard-"));
    const web = join(dir, "web");
    await mkdir(join(web, "assets"), { recursive: true });
    await writeFile(join(web, "index.html"), "<!doctype html><title>strata</title>");
    await writeFile(join(web, "assets", "index-abc.js"), "console.log('dashboard');\n".repeat(50));
    const config = parseServerConfig(`balancer: { host: "127.30.2.1" }`, "test", {
      dataDir: join(dir, "data"),
      listen: "127.30.2.1:0",
    });
    plane = await startControlPlane({ config, webDir: web });
    await plane.store.groups.ensure("web");
  });
  after(async () => {
    await plane.close();
    await rm(dir, { recursive: true, force: true });
  });

  const request = (path: string, init: RequestInit = {}) => plane.api.request(path, init);
  const withSession = (path: string, init: RequestInit = {}) =>
    request(path, { ...init, headers: { ...(init.headers ?? {}), cookie } });

  async function expectError(res: Response, status: number, pattern: RegExp): Promise<void> {
    assert.equal(res.status, status);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, pattern);
  }

  test("serves the built files to anyone, gzipped when asked, assets immutable", async () => {
    const page = await request("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    assert.equal(page.headers.get("cache-control"), "no-cache");
    assert.match(await page.text(), /<title>strata/);
    const asset = await request("/assets/index-abc.js", { headers: { "accept-encoding": "gzip" } });
    assert.equal(asset.headers.get("content-encoding"), "gzip");
    assert.match(asset.headers.get("cache-control")!, /immutable/);
    const body = gunzipSync(Buffer.from(await asset.arrayBuffer())).toString();
    assert.match(body, /console\.log\('dashboard'\)/);
    assert.equal((await request("/assets/missing.js")).status, 404);
    assert.equal((await request("/../data/admin-token")).status, 404);
  });

  test("no data without a session; the session answer names the token file", async () => {
    for (const path of [
      "/v1/status",
      "/v1/events",
      "/v1/dashboard/timeline?group=web",
      "/v1/dashboard/forecasts",
      "/v1/audit",
    ]) {
      assert.equal((await request(path)).status, 401, path);
      const forged = await request(path, { headers: { cookie: "strata_session=forged" } });
      assert.equal(forged.status, 401, `${path} with a forged cookie`);
    }
    const view = (await (await request("/v1/session")).json()) as SessionView;
    assert.deepEqual(view, { signed_in: false, token_file: join(plane.dataDir, "admin-token") });
  });

  test("sign-in validates its body and refuses a wrong token", async () => {
    const post = (body: string) =>
      request("/v1/session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    await expectError(await post("not json"), 400, /sign-in: body:/);
    await expectError(await post("{}"), 400, /sign-in: token:/);
    await expectError(await post('{"token":"x","extra":1}'), 400, /sign-in: extra: unknown key/);
    await expectError(await post('{"token":"wrong"}'), 401, /wrong admin token/);
    const res = await post(JSON.stringify({ token: plane.adminToken }));
    assert.equal(res.status, 200);
    const set = res.headers.get("set-cookie")!;
    assert.match(
      set,
      /^strata_session=[\w-]{20,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
    );
    cookie = set.split(";")[0]!;
    const view = (await (await withSession("/v1/session")).json()) as SessionView;
    assert.equal(view.signed_in, true);
  });

  test("a session reads but never changes: GET passes, POST needs the bearer token", async () => {
    assert.equal((await withSession("/v1/status")).status, 200);
    const up = await withSession("/v1/fleet/up", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ group: "web", count: 1 }),
    });
    assert.equal(up.status, 401);
    assert.equal((await plane.store.servers.list()).length, 0);
  });

  test("timeline: every query field is validated, 400 naming it", async () => {
    const get = (query: string) => withSession(`/v1/dashboard/timeline?${query}`);
    await expectError(await get(""), 400, /timeline: group:/);
    await expectError(await get("group=Web!"), 400, /timeline: group:/);
    await expectError(await get("group=web&from=yesterday"), 400, /timeline: from:/);
    await expectError(
      await get("group=web&from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z"),
      400,
      /timeline: to: must be after from/,
    );
    await expectError(
      await get("group=web&from=2024-01-01T00:00:00Z&to=2024-03-01T00:00:00Z"),
      400,
      /at most 31 days/,
    );
    await expectError(await get("group=web&zoom=2"), 400, /timeline: zoom: unknown key/);
    await expectError(await get("group=nope"), 404, /no group nope/);
    const res = await get("group=web");
    assert.equal(res.status, 200);
    const view = (await res.json()) as TimelineView;
    assert.equal(view.group, "web");
    assert.equal(view.to - view.from, 9 * 86_400_000, "the last 7 days and the next 48 hours");
    assert.equal(view.planned, null, "no planner wired in yet");
    assert.deepEqual(view.observed, { time: [], rpm: [] });
  });

  test("events: a new stream starts with a reset; a reconnect replays exactly what it missed", async () => {
    await expectError(await withSession("/v1/events?after=zzz"), 400, /events: after:/);
    const first = await readEvents(await withSession("/v1/events"), (e) => e.length >= 1);
    assert.equal(first[0]!.event, "reset");
    const lastSeen = first[0]!.id;
    const one = plane.events.publish("deployment", { deployment: "d-1", type: "wave" });
    const two = plane.events.publish("server", { server: "web-1", phase: "working" });
    const replayed = await readEvents(
      await withSession("/v1/events", { headers: { "last-event-id": lastSeen } }),
      (e) => e.length >= 2,
    );
    assert.deepEqual(
      replayed.map((e) => [e.id, e.event, e.data.data]),
      [
        [one.id, "deployment", one.data],
        [two.id, "server", two.data],
      ],
    );
    // An id from another boot (a restarted control plane) cannot be caught up on.
    const stale = await readEvents(
      await withSession("/v1/events", { headers: { "last-event-id": "0badb00t-3" } }),
      (e) => e.length >= 1,
    );
    assert.equal(stale[0]!.event, "reset");
    assert.equal(stale[0]!.id, two.id);
  });

  test("events carry audit entries under their topic, live", async () => {
    const res = await withSession("/v1/events", {
      headers: { "last-event-id": plane.events.lastId() },
    });
    const reading = readEvents(res, (e) => e.some((x) => x.event === "release"));
    await plane.store.groups.ensure("api");
    const audit = (await import("../event-hub.js")).topicOf("release.create");
    assert.equal(audit, "release");
    const { publishAudit } = await import("../live-events.js");
    publishAudit(plane.events, {
      at: Date.now(),
      actor: "test",
      action: "release.create",
      subject: "hello@1.0.0",
      detail: {},
    });
    const events = await reading;
    const release = events.find((e) => e.event === "release")!;
    assert.equal((release.data.data.audit as { subject: string }).subject, "hello@1.0.0");
  });

  test("signing out ends the session", async () => {
    const res = await withSession("/v1/session", { method: "DELETE" });
    assert.equal(res.status, 204);
    assert.match(res.headers.get("set-cookie")!, /Max-Age=0/);
    assert.equal((await withSession("/v1/status")).status, 401);
  });
});

describe("dashboard without a build", () => {
  test("`/` says how to build it instead of a blank page", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strata-dashboard-"));
    const config = parseServerConfig(`balancer: { host: "127.30.2.2" }`, "test", {
      dataDir: join(dir, "data"),
      listen: "127.30.2.2:0",
    });
    const plane = await startControlPlane({ config, webDir: join(dir, "missing") });
    try {
      const res = await plane.api.request("/");
      assert.equal(res.status, 503);
      assert.match(await res.text(), /dashboard is not built.*npm run build:web/s);
      const page = await plane.api.request("/deployments");
      assert.equal(page.status, 503, "a dashboard page says so too");
      // Regression: the not-built answer shadowed the routes outside /v1, /metrics among them.
      const metrics = await plane.api.request("/metrics");
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /# TYPE strata_/);
    } finally {
      await plane.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
