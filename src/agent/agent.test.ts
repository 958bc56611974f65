// run() against an in-memory ControlPlaneClient (the real control plane is another part);
// artifacts still come over HTTP from a static server.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StrataError } from "../lib/errors.js";
import type {
  AgentReport,
  DesiredRelease,
  DesiredState,
  Heartbeat,
  JoinRequest,
} from "../wire/agent.js";
import { readCurrent } from "../lib/server-root.js";
import { packDirectory } from "../artifact/pack.js";
import { ensureReleaseSigner } from "../artifact/signing.js";
import { run, type AgentConfig } from "./agent.js";
import type { ControlPlaneClient } from "./control-plane-client.js";
import { randomLoopback, randomPort, waitFor } from "../lib/test-support.js";

/** Follows the documented protocol: long poll answers at once when the generation differs. */
function memoryControlPlane() {
  let state: DesiredState = { generation: 0, release: null };
  let wake = () => {};
  const plane = {
    joins: [] as JoinRequest[],
    reports: [] as AgentReport[],
    heartbeats: [] as Heartbeat[],
    tokens: [] as (string | null)[],
    rejectNextWith401: false,
    releaseKey: undefined as string | undefined,
    setDesired(next: DesiredState) {
      state = next;
      wake();
    },
    client(): ControlPlaneClient {
      let token: string | null = null;
      return {
        async join(request) {
          plane.joins.push(request);
          const key = plane.releaseKey ? { release_key: plane.releaseKey } : {};
          return { server: "memory", token: `token-${plane.joins.length}`, ...key };
        },
        async desired(after, waitSeconds, signal) {
          plane.tokens.push(token);
          if (plane.rejectNextWith401) {
            plane.rejectNextWith401 = false;
            throw new StrataError("unauthorized", "[server] unknown agent token");
          }
          if (state.generation === after) {
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, waitSeconds * 1000);
              wake = () => (clearTimeout(timer), resolve());
              signal?.addEventListener("abort", wake, { once: true });
            });
          }
          if (signal?.aborted) throw signal.reason;
          return state;
        },
        async report(report) {
          plane.reports.push(report);
        },
        async heartbeat(heartbeat) {
          plane.heartbeats.push(heartbeat);
          return undefined;
        },
        async rotateToken() {
          return { token: `rotated-${plane.joins.length}` };
        },
        setToken(next) {
          token = next;
        },
        get token() {
          return token;
        },
      };
    },
  };
  return plane;
}

describe("agent run()", () => {
  let work: string;
  let server: Server;
  let config: AgentConfig;
  const files = new Map<string, string>();
  const appPort = randomPort();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "strata-agent-"));
    server = createServer((req, res) => {
      const file = files.get(req.url ?? "");
      if (!file) return void res.writeHead(404).end();
      res.writeHead(200);
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
    const { address, port } = server.address() as AddressInfo;
    config = {
      server: `http://${address}:${port}`,
      joinToken: "join-secret",
      group: "web",
      root: join(work, "root"),
      address: randomLoopback(),
      name: "web-1",
      heartbeatMs: 50,
    };
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(work, { recursive: true, force: true });
  });

  const answer = () =>
    fetch(`http://${config.address}:${appPort}/`).then(
      async (res) => ((await res.json()) as { message: string }).message,
      () => null,
    );

  test("joins, reconciles to the desired release, rejoins after a 401, stops the app on abort", async () => {
    const src = join(work, "app");
    await cp(new URL("../../examples/hello/", import.meta.url).pathname, src, { recursive: true });
    const yaml = await readFile(join(src, "strata.yaml"), "utf8");
    await writeFile(
      join(src, "strata.yaml"),
      yaml
        .replace("start: node server.js", `start: [${JSON.stringify(process.execPath)}, server.js]`)
        .replace("port: 8080", `port: ${appPort}`),
    );
    const packed = await packDirectory(src, join(work, "v1.tar.gz"));
    const path = `/v1/releases/${packed.id}/artifact`;
    files.set(path, packed.file);

    const plane = memoryControlPlane();
    plane.rejectNextWith401 = true;
    const controller = new AbortController();
    const running = run(controller.signal, config, { client: plane.client(), log: () => {} });

    const release = {
      id: packed.id,
      app: "hello",
      version: "v1",
      size: packed.size,
      artifact_path: path,
    };
    plane.setDesired({ generation: 1, release });
    const final = await waitFor("the converged report", () =>
      plane.reports.find((r) => r.generation === 1 && r.phase !== "working"),
    );
    assert.equal(final.phase, "converged", final.error);
    assert.equal(final.current_release, packed.id);
    assert.ok(plane.reports.some((r) => r.phase === "working"));
    assert.equal(await answer(), "Hello from the first release.");

    assert.equal(plane.joins.length, 2, "joined, then rejoined after the 401");
    assert.deepEqual(plane.joins[0], {
      join_token: "join-secret",
      name: "web-1",
      group: "web",
      address: config.address,
    });
    assert.equal(plane.tokens.at(-1), "token-2");
    const saved = JSON.parse(await readFile(join(config.root, "agent.json"), "utf8"));
    assert.deepEqual(saved, { name: "web-1", token: "token-2" });
    assert.equal((await stat(join(config.root, "agent.json"))).mode & 0o777, 0o600);
    await waitFor("a healthy heartbeat", () =>
      plane.heartbeats.some(
        (h) => h.app_healthy && h.current_release === packed.id && h.app_port === appPort,
      ),
    );

    controller.abort();
    await running;
    assert.equal(await answer(), null, "the app is stopped");

    // A restart serves what `current` holds at once, with the saved token and no download.
    files.clear();
    const again = memoryControlPlane();
    again.setDesired({ generation: 1, release });
    const second = new AbortController();
    const restarted = run(
      second.signal,
      { ...config, joinToken: undefined },
      { client: again.client(), log: () => {} },
    );
    const report = await waitFor("the converged report", () =>
      again.reports.find((r) => r.phase !== "working"),
    );
    assert.equal(report.phase, "converged");
    assert.deepEqual(
      report.steps.map((s) => s.name),
      ["health_check"],
    );
    assert.equal(again.joins.length, 0);
    assert.equal(again.tokens[0], "token-2");
    assert.equal(await answer(), "Hello from the first release.");
    second.abort();
    await restarted;
    assert.equal(await answer(), null);
  });

  /** Packs examples/hello with its own message; returns the DesiredRelease serving it. */
  async function release(version: string, message: string): Promise<DesiredRelease> {
    const src = join(work, `app-${version}`);
    await cp(new URL("../../examples/hello/", import.meta.url).pathname, src, { recursive: true });
    const yaml = await readFile(join(src, "strata.yaml"), "utf8");
    await writeFile(
      join(src, "strata.yaml"),
      yaml
        .replace("start: node server.js", `start: [${JSON.stringify(process.execPath)}, server.js]`)
        .replace("port: 8080", `port: ${appPort}`),
    );
    await writeFile(join(src, "message.txt"), `${message}\n`);
    const packed = await packDirectory(src, join(work, `${version}.tar.gz`));
    const path = `/v1/releases/${packed.id}/artifact`;
    files.set(path, packed.file);
    return { id: packed.id, app: "hello", version, size: packed.size, artifact_path: path };
  }

  test("a stage is fetched and unpacked without touching current or the app; the switch then skips the download", async () => {
    const root = join(work, "staging");
    const v1 = await release("s1", "one");
    const v2 = await release("s2", "two");
    const plane = memoryControlPlane();
    const controller = new AbortController();
    const running = run(
      controller.signal,
      { ...config, root },
      { client: plane.client(), log: () => {} },
    );
    const final = (generation: number) =>
      waitFor(`the final report of generation ${generation}`, () =>
        plane.reports.find((r) => r.generation === generation && r.phase !== "working"),
      );
    plane.setDesired({ generation: 1, release: v1 });
    assert.equal((await final(1)).phase, "converged");
    const pid = await readFile(join(root, "app.pid"), "utf8");

    plane.setDesired({ generation: 2, release: v1, stage: v2 });
    const staged = await final(2);
    assert.equal(staged.phase, "staged", staged.error);
    assert.equal(staged.release_id, v2.id);
    assert.equal(staged.current_release, v1.id);
    assert.deepEqual(
      staged.steps.map((s) => `${s.name}:${s.state}`),
      ["fetch:ok", "extract:ok", "validate:ok"],
    );
    assert.equal(await readCurrent(root), v1.id, "current is untouched");
    assert.equal(await readFile(join(root, "app.pid"), "utf8"), pid, "the app was not restarted");
    assert.equal(await answer(), "one");
    assert.equal(
      plane.reports.filter((r) => r.generation === 2 && r.phase !== "working").length,
      1,
    );

    // A corrupt staged artifact fails its stage and leaves the running release serving.
    const corrupt = { ...v2, id: `sha256:${"0".repeat(64)}` };
    files.set(corrupt.artifact_path, files.get(v2.artifact_path)!);
    plane.setDesired({ generation: 3, release: v1, stage: corrupt });
    const failed = await final(3);
    assert.equal(failed.phase, "failed");
    assert.equal(failed.release_id, corrupt.id);
    assert.match(failed.error ?? "", /checksum mismatch/);
    assert.equal(await readCurrent(root), v1.id);
    assert.equal(await answer(), "one");

    files.delete(v2.artifact_path); // the switch must not download again
    plane.setDesired({ generation: 4, release: v2, stage: null });
    const switched = await final(4);
    assert.equal(switched.phase, "converged", switched.error);
    assert.deepEqual(
      switched.steps.slice(0, 2).map((s) => `${s.name}:${s.state}:${s.output}`),
      ["fetch:skipped:release already on disk", "extract:skipped:release already on disk"],
    );
    assert.equal(await answer(), "two");
    controller.abort();
    await running;
  });

  test("with a key pinned at join, only releases signed with it are fetched (issue 8: signed releases)", async () => {
    const root = join(work, "signed");
    const signer = await ensureReleaseSigner(join(work, "signing.pem"));
    const intruder = await ensureReleaseSigner(join(work, "intruder.pem"));
    const v1 = await release("k1", "signed one");
    const plane = memoryControlPlane();
    plane.releaseKey = signer.publicKey;
    const controller = new AbortController();
    const running = run(
      controller.signal,
      { ...config, root },
      { client: plane.client(), log: () => {} },
    );
    const final = (generation: number) =>
      waitFor(`the final report of generation ${generation}`, () =>
        plane.reports.find((r) => r.generation === generation && r.phase !== "working"),
      );

    plane.setDesired({ generation: 1, release: { ...v1, signature: signer.sign(v1) } });
    const ok = await final(1);
    assert.equal(ok.phase, "converged", ok.error);
    assert.deepEqual(ok.steps[0], { ...ok.steps[0], name: "verify", state: "ok" });
    const saved = JSON.parse(await readFile(join(root, "agent.json"), "utf8"));
    assert.equal(saved.release_key, signer.publicKey, "the key is pinned in agent.json");

    const v2 = await release("k2", "tampered");
    const refused: [string, DesiredRelease][] = [
      ["a tampered manifest", { ...v2, signature: signer.sign({ ...v2, version: "k1" }) }],
      ["another key", { ...v2, signature: intruder.sign(v2) }],
      ["no signature", v2],
    ];
    let generation = 1;
    for (const [what, desired] of refused) {
      plane.setDesired({ generation: ++generation, release: desired });
      const report = await final(generation);
      assert.equal(report.phase, "failed", what);
      assert.match(report.error ?? "", /\[agent\] verify: .*(does not match|is not signed)/, what);
      assert.deepEqual(
        report.steps.map((step) => step.name),
        ["verify"],
        `${what}: nothing fetched or unpacked`,
      );
    }
    assert.equal(await readCurrent(root), v1.id);
    assert.equal(await answer(), "signed one");
    controller.abort();
    await running;
  });

  test("without a token or a join token it refuses to start", async () => {
    const plane = memoryControlPlane();
    await assert.rejects(
      run(
        new AbortController().signal,
        { ...config, root: join(work, "empty"), joinToken: undefined },
        { client: plane.client(), log: () => {} },
      ),
      { code: "invalid_config", message: /no join token/ },
    );
  });
});
