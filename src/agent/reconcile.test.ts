// End to end: real tarballs of examples/hello, served over HTTP, deployed into a temp root.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../lib/clock.js";
import type { AgentReport, DesiredRelease } from "../wire/agent.js";
import { packDirectory } from "../artifact/pack.js";
import { fetchArtifact } from "../artifact/download.js";
import { reconcile } from "./reconcile.js";
import { createSupervisor, type Supervisor } from "../runtime/supervisor.js";
import { readCurrent, releaseDir, releaseDirName } from "../lib/server-root.js";
import { randomLoopback, randomPort } from "../lib/test-support.js";

const EXAMPLE = new URL("../../examples/hello/", import.meta.url).pathname;
const TOKEN = "agent-token";

describe("reconcile (end to end)", () => {
  let work: string;
  let root: string;
  let server: Server;
  let base: string;
  const host = randomLoopback();
  const appPort = randomPort();
  const artifacts = new Map<string, string>(); // artifact path -> file
  let supervisor: Supervisor;
  let generation = 0;
  const controller = new AbortController();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-reconcile-"));
    root = join(work, "root");
    server = createServer((req, res) => {
      const file = artifacts.get(req.url ?? "");
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/gzip" });
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
    const { address, port } = server.address() as AddressInfo;
    base = `http://${address}:${port}`;
    supervisor = createSupervisor({ logFile: join(root, "app.log"), clock: systemClock });
  });
  after(async () => {
    controller.abort();
    await supervisor.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  /** Packs examples/hello with `message` and strata.yaml changes; returns its DesiredRelease. */
  async function build(
    version: string,
    message: string,
    yaml: (text: string) => string = (text) => text,
  ): Promise<DesiredRelease> {
    const src = join(work, `src-${version}`);
    await cp(EXAMPLE, src, { recursive: true });
    await writeFile(join(src, "message.txt"), `${message}\n`);
    const definition = (await readFile(join(src, "strata.yaml"), "utf8"))
      .replace("start: node server.js", `start: [${JSON.stringify(process.execPath)}, server.js]`)
      .replace("port: 8080", `port: ${appPort}`)
      .replace("keep_releases: 5", "keep_releases: 2")
      .replace(/on_failure: .*/, 'on_failure: echo "$STRATA_PREVIOUS_RELEASE_ID" > failed.txt');
    await writeFile(join(src, "strata.yaml"), yaml(definition));
    const packed = await packDirectory(src, join(work, `${version}.tar.gz`));
    const artifactPath = `/v1/releases/${packed.id}/artifact`;
    artifacts.set(artifactPath, packed.file);
    return { id: packed.id, app: "hello", version, size: packed.size, artifact_path: artifactPath };
  }

  async function deploy(release: DesiredRelease) {
    const reports: AgentReport[] = [];
    const final = await reconcile({
      root,
      generation: ++generation,
      release,
      host,
      supervisor,
      fetchArtifact: async (wanted, dest, signal) => {
        await fetchArtifact({
          url: base + wanted.artifact_path,
          token: TOKEN,
          releaseId: wanted.id,
          size: wanted.size,
          dest,
          clock: systemClock,
          signal,
        });
      },
      report: (report) => void reports.push(report),
      clock: systemClock,
      signal: controller.signal,
    });
    assert.deepEqual(reports.at(-1), final, "the final report is sent last");
    assert.ok(
      reports.slice(0, -1).every((r) => r.phase === "working" && r.generation === generation),
    );
    return { final, reports, steps: Object.fromEntries(final.steps.map((s) => [s.name, s])) };
  }

  async function answer(): Promise<{ message: string; version: string; release: string }> {
    const res = await fetch(`http://${host}:${appPort}/`);
    assert.equal(res.status, 200);
    return (await res.json()) as { message: string; version: string; release: string };
  }

  let v1: DesiredRelease;
  let v2: DesiredRelease;

  test("deploys a first release: files, hooks, switch, running app", async () => {
    v1 = await build("v1", "first");
    const { final, reports, steps } = await deploy(v1);
    assert.equal(final.phase, "converged", final.error);
    assert.equal(final.current_release, v1.id);
    assert.equal(final.app_port, appPort);
    assert.deepEqual(
      final.steps.map((s) => [s.name, s.state]),
      [
        ["fetch", "ok"],
        ["extract", "ok"],
        ["validate", "ok"],
        ["before_switch", "ok"],
        ["switch", "ok"],
        ["after_switch", "ok"],
        ["restart", "ok"],
        ["health_check", "ok"],
        ["on_success", "ok"],
      ],
    );
    // every step was reported as running before it finished
    for (const name of ["fetch", "extract", "restart", "health_check"]) {
      assert.ok(reports.some((r) => r.steps.some((s) => s.name === name && s.state === "running")));
    }
    assert.match(steps.before_switch?.output ?? "", /looks complete/);
    assert.match(steps.on_success?.output ?? "", /hello v1 is live/);

    const dir = releaseDir(root, v1.id);
    assert.equal(await readFile(join(dir, "message.txt"), "utf8"), "first\n");
    assert.match(
      await readFile(join(dir, "switched.txt"), "utf8"),
      new RegExp(`^${v1.id} switched at .* \\(previous: none\\)`),
    );
    assert.equal(await readCurrent(root), v1.id);
    assert.deepEqual(await readdir(join(root, "tmp")), [], "the downloaded tarball is removed");
    assert.deepEqual(await answer(), {
      greeting: "hello",
      version: "v1",
      message: "first",
      release: v1.id,
    });
  });

  test("a second release switches and restarts", async () => {
    v2 = await build("v2", "second");
    const { final } = await deploy(v2);
    assert.equal(final.phase, "converged", final.error);
    assert.equal(final.current_release, v2.id);
    const body = await answer();
    assert.equal(body.message, "second");
    assert.equal(body.version, "v2");
    assert.match(
      await readFile(join(releaseDir(root, v2.id), "switched.txt"), "utf8"),
      new RegExp(`previous: ${v1.id}`),
    );
  });

  test("redeploying the running, healthy release only checks it", async () => {
    const pid = supervisor.pid;
    const { final } = await deploy(v2);
    assert.equal(final.phase, "converged");
    assert.deepEqual(
      final.steps.map((s) => s.name),
      ["health_check"],
    );
    assert.equal(supervisor.pid, pid, "the app was not restarted");
  });

  test("a failing health check rolls back to the previous release, which keeps answering", async () => {
    const v3 = await build("v3", "third", (text) =>
      text.replace("path: /healthz", "path: /missing").replace("retries: 30", "retries: 5"),
    );
    const { final, steps } = await deploy(v3);
    assert.equal(final.phase, "failed");
    // (a slow machine may still be starting node when the tries run out: refused, not 404)
    assert.match(
      final.error ?? "",
      /health_check: GET .*\/missing: expected 200, got (HTTP 404|ECONNREFUSED)/,
    );
    assert.equal(final.current_release, v2.id);
    assert.equal(steps.health_check?.state, "failed");
    assert.equal(steps.rollback?.state, "ok", steps.rollback?.error);
    assert.equal(steps.on_failure?.state, "ok");
    assert.equal(steps.on_success, undefined);
    assert.equal(await readFile(join(releaseDir(root, v3.id), "failed.txt"), "utf8"), `${v2.id}\n`);
    assert.equal(await readCurrent(root), v2.id);
    assert.equal(supervisor.current?.releaseId, v2.id);
    assert.equal((await answer()).message, "second");
  });

  test("a health check failing on a crashed app names its exit code and carries app.log's last lines (issue 15 defect 7)", async () => {
    const v3c = await build("v3c", "crashing", (text) =>
      text
        .replace(
          /start: .*/,
          `start: [${JSON.stringify(process.execPath)}, -e, "console.error('boom: DATABASE_URL is not set'); process.exit(3)"]`,
        )
        // long enough for node to start and crash on a loaded machine
        .replace("retries: 30, interval: 200ms", "retries: 20, interval: 500ms"),
    );
    const { final, steps } = await deploy(v3c);
    assert.equal(final.phase, "failed");
    assert.match(
      final.error ?? "",
      /ECONNREFUSED \(21 tries\); the app exited with code 3( \(\d+ times\))?\n/,
    );
    assert.match(
      final.error ?? "",
      /last lines of app\.log:\n(.*\n)*boom: DATABASE_URL is not set/,
    );
    assert.match(steps.health_check?.error ?? "", /exited with code 3/);
    assert.match(steps.health_check?.output ?? "", /boom: DATABASE_URL is not set/);
    assert.ok((steps.health_check?.output ?? "").split("\n").length <= 20, "bounded");
    assert.equal(final.current_release, v2.id, "rolled back");
    assert.equal((await answer()).message, "second");
  });

  test("a failing before_switch hook changes nothing", async () => {
    const pid = supervisor.pid;
    const v4 = await build("v4", "fourth", (text) =>
      text.replace("before_switch: ./hooks/check.sh", 'before_switch: "echo refusing; exit 3"'),
    );
    const { final, steps } = await deploy(v4);
    assert.equal(final.phase, "failed");
    assert.equal(final.error, "[agent] before_switch: exited with 3");
    assert.equal(steps.before_switch?.output, "refusing\n");
    assert.equal(steps.switch, undefined);
    assert.equal(steps.rollback, undefined);
    assert.equal(final.current_release, v2.id);
    assert.equal(await readCurrent(root), v2.id);
    assert.equal(supervisor.pid, pid, "the running app was not touched");
    assert.equal((await answer()).message, "second");
  });

  test("a corrupt artifact fails with checksum_mismatch and the old release keeps serving", async () => {
    const v5 = await build("v5", "fifth");
    const file = artifacts.get(v5.artifact_path)!;
    const bytes = await readFile(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    await writeFile(file, bytes);
    const pid = supervisor.pid;
    const { final, steps } = await deploy(v5);
    assert.equal(final.phase, "failed");
    assert.match(
      final.error ?? "",
      new RegExp(
        `^\\[agent\\] fetch: checksum mismatch for ${v5.id} \\(got sha256:[0-9a-f]{64}\\)$`,
      ),
    );
    assert.equal(steps.fetch?.state, "failed");
    assert.equal(steps.extract, undefined);
    assert.equal(await readCurrent(root), v2.id);
    assert.equal(supervisor.pid, pid);
    assert.ok(!(await readdir(join(root, "releases"))).includes(releaseDirName(v5.id)));
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.equal((await answer()).message, "second");
  });

  test("going back to a release still on disk skips the download, and old releases are pruned", async () => {
    artifacts.clear(); // a download would now fail
    const { final, steps } = await deploy(v1);
    assert.equal(final.phase, "converged", final.error);
    assert.equal(steps.fetch?.state, "skipped");
    assert.equal(steps.extract?.state, "skipped");
    assert.equal((await answer()).message, "first");
    // keep_releases: 2 -> the current (v1) and the previous (v2) remain
    assert.deepEqual(
      (await readdir(join(root, "releases"))).sort(),
      [releaseDirName(v1.id), releaseDirName(v2.id)].sort(),
    );
  });

  test("a first deploy that fails its health check leaves nothing running", async () => {
    const fresh = join(work, "fresh-root");
    await mkdir(fresh);
    const other = createSupervisor({ logFile: join(fresh, "app.log"), clock: systemClock });
    const bad = await build("bad", "bad", (text) =>
      text
        .replace("path: /healthz", "path: /missing")
        .replace("retries: 30", "retries: 1")
        .replace(`port: ${appPort}`, `port: ${randomPort()}`),
    );
    const final = await reconcile({
      root: fresh,
      generation: 1,
      release: bad,
      host,
      supervisor: other,
      fetchArtifact: (wanted, dest, signal) =>
        fetchArtifact({
          url: base + wanted.artifact_path,
          token: TOKEN,
          releaseId: wanted.id,
          size: wanted.size,
          dest,
          clock: systemClock,
          signal,
        }).then(() => undefined),
      report: () => undefined,
      clock: systemClock,
      signal: controller.signal,
    });
    assert.equal(final.phase, "failed");
    assert.equal(final.current_release, null);
    assert.equal(await readCurrent(fresh), null);
    assert.equal(other.current, null);
  });
});
