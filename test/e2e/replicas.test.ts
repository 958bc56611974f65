import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { once } from "node:events";
import { realpathSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createS3ArtifactStore } from "../../src/artifact/s3/s3-store.js";
import { ApiClient } from "../../src/cli/client.js";
import { EtcdClient } from "../../src/coord/etcd/etcd-client.js";
import { ENGINES, engineSkipReason } from "../../src/lib/engine-tests.js";
import type { AuditVerifyView } from "../../src/wire/audit.js";
import type { DeploymentView } from "../../src/wire/deployment.js";
import type { ExecEvent, LogsEvent } from "../../src/wire/ops.js";
import {
  EXAMPLE_APP,
  build,
  deployAndWait,
  get,
  processesUnder,
  status,
  stopBalancerDaemon,
  variantOf,
  waitFor,
  waitForDeployment,
} from "./harness.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const S3 = ENGINES.s3;
const skip =
  (await engineSkipReason("PostgreSQL", async () => {
    const client = new pg.Client({ connectionString: ENGINES.postgresUrl });
    await client.connect();
    await client.end();
  })) ??
  (await engineSkipReason("etcd", () =>
    new EtcdClient({ endpoints: ENGINES.etcdEndpoints }).get("/probe"),
  )) ??
  (await engineSkipReason("S3", () =>
    createS3ArtifactStore({
      endpoint: S3.endpoint,
      bucket: "strata-test",
      region: S3.region,
      credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey },
    }).ensureBucket(),
  ));

const REPLICAS = ["127.85.0.10", "127.85.0.11"];
/** A private etcd member, so that killing it disturbs no other test (the shared one is never stopped). */
const ETCD = { host: "127.85.0.5", client: 19301, peer: 19302 };
const AGENTS = ["127.85.6.1", "127.85.6.2", "127.85.6.3"];

/** A process in its own group, so that killing it takes its children (agents: the app) along. */
function start(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
    detached: true,
  });
}

const haveEtcdBinary = await new Promise<boolean>((resolve) => {
  const probe = spawn("etcd", ["--version"], { stdio: "ignore" });
  probe.on("error", () => resolve(false));
  probe.on("exit", (code) => resolve(code === 0));
});

/** Starts (or restarts, on the same data) the private etcd member; resolves once it answers. */
async function startEtcd(dataDir: string): Promise<ChildProcess> {
  const client = `http://${ETCD.host}:${ETCD.client}`;
  const peer = `http://${ETCD.host}:${ETCD.peer}`;
  const member = spawn(
    "etcd",
    [
      ...["--name", "replicas-e2e", "--data-dir", dataDir],
      ...["--listen-client-urls", client, "--advertise-client-urls", client],
      ...["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
      ...["--initial-cluster", `replicas-e2e=${peer}`],
    ],
    { stdio: "ignore" },
  );
  await waitFor("the private etcd member", async () => {
    if (member.exitCode !== null) throw new Error(`etcd exited with ${member.exitCode}`);
    return new EtcdClient({ endpoints: [client] }).get("/probe").then(() => true);
  });
  return member;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // gone already
  }
}

/**
 * The "any HTTP load balancer" in front of the replicas: round robin, each
 * request to the next replica that accepts the connection, so an agent's
 * heartbeats, long polls and reports alternate between the replicas (the
 * deployment runs on one of them). `counts` tallies each path per upstream.
 */
function roundRobinProxy(upstreams: () => string[], counts: Map<string, number>): http.Server {
  let turn = 0;
  return http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const live = upstreams();
    const first = turn++ % Math.max(1, live.length);
    for (const upstream of [...live.slice(first), ...live.slice(0, first)]) {
      const target = new URL(upstream);
      const answered = await new Promise<boolean>((resolve) => {
        const forward = http.request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on("end", () => resolve(true));
            answer.on("error", () => {
              res.destroy();
              resolve(true);
            });
          },
        );
        forward.on("error", () =>
          res.headersSent ? (res.destroy(), resolve(true)) : resolve(false),
        );
        forward.end(body);
      });
      if (answered) {
        const key = `${req.method} ${req.url?.split("?")[0]} ${upstream}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        return;
      }
    }
    res.writeHead(502).end();
  });
}

describe(
  "two replicas on PostgreSQL + etcd + S3 (Swift s3api), 3 agents",
  { skip: skip ?? false },
  () => {
    let dir: string;
    let proxy: http.Server;
    let proxyUrl: string;
    let client: ApiClient;
    const schema = `e2e_${randomBytes(5).toString("hex")}`;
    const replicas: { child: ChildProcess; url: string; dataDir: string }[] = [];
    /** Requests the balancer passed on, by method, path and replica. */
    const counts = new Map<string, number>();
    const reportsTo = (replica: { url: string }) =>
      counts.get(`POST /v1/agents/report ${replica.url}`) ?? 0;
    const agents: ChildProcess[] = [];
    /** The private etcd member when the binary is here, else the shared one (not killed). */
    let etcd: ChildProcess | null = null;
    let etcdEndpoints = ENGINES.etcdEndpoints;
    const adminToken = randomBytes(24).toString("hex");
    const joinToken = randomBytes(24).toString("hex");
    // And the release-signing key: agents pin the key of the replica they joined.
    const signingKey = generateKeyPairSync("ed25519").privateKey.export({
      type: "pkcs8",
      format: "pem",
    }) as string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "strata-replicas-"));
      if (haveEtcdBinary) {
        etcd = await startEtcd(join(dir, "etcd"));
        etcdEndpoints = [`http://${ETCD.host}:${ETCD.client}`];
      }
      const prefix = `e2e-${randomBytes(4).toString("hex")}`;
      for (const [i, host] of REPLICAS.entries()) {
        const dataDir = join(dir, `replica-${i}`);
        await mkdir(dataDir, { recursive: true, mode: 0o700 });
        // Replicas share their admin and join tokens and signing key; per-agent tokens live in PostgreSQL.
        await writeFile(join(dataDir, "admin-token"), adminToken + "\n", { mode: 0o600 });
        await writeFile(join(dataDir, "join-token"), joinToken + "\n", { mode: 0o600 });
        await writeFile(join(dataDir, "release-signing-key.pem"), signingKey, { mode: 0o600 });
        const config = join(dir, `replica-${i}.yaml`);
        await writeFile(
          config,
          [
            `data_dir: ${dataDir}`,
            `listen: "${host}:0"`,
            `balancer: { host: "${host}" }`,
            "heartbeat_interval: 300ms",
            "heartbeat_timeout: 3s",
            "deploy: { server_timeout: 60s, drain_timeout: 1s }",
            // Agents started by hand on any replica join with the shared cluster token.
            "join: { cluster_token: true }",
            `state: { postgres: { url: "${ENGINES.postgresUrl}", schema: ${schema} } }`,
            `coordination: { etcd: { endpoints: ${JSON.stringify(etcdEndpoints)}, prefix: /${prefix}, lease_ttl: 2s } }`,
            `artifacts: { s3: { endpoint: "${S3.endpoint}", bucket: strata-test, region: ${S3.region}, prefix: ${prefix}/, access_key_id: "${S3.accessKeyId}" } }`,
          ].join("\n"),
        );
        const child = start(["server", "--config", config], {
          STRATA_S3_SECRET_ACCESS_KEY: S3.secretAccessKey,
        });
        const info = await waitFor(`replica ${i}`, async () => {
          if (child.exitCode !== null)
            throw new Error(`replica ${i} exited with ${child.exitCode}`);
          return JSON.parse(await readFile(join(dataDir, "server.json"), "utf8")) as {
            url: string;
          };
        });
        replicas.push({ child, url: info.url, dataDir });
      }
      proxy = roundRobinProxy(
        () => replicas.filter((r) => r.child.exitCode === null).map((r) => r.url),
        counts,
      );
      await new Promise<void>((listening) => proxy.listen(0, "127.85.0.20", listening));
      proxyUrl = `http://127.85.0.20:${(proxy.address() as AddressInfo).port}`;
      client = new ApiClient(proxyUrl, adminToken);
      for (const [i, address] of AGENTS.entries()) {
        const root = join(dir, "agents", `web-${i + 1}`);
        await mkdir(root, { recursive: true });
        agents.push(
          start(
            [
              ...["--server", proxyUrl, "agent", "--join-token", joinToken, "--group", "web"],
              ...["--root", root, "--address", address, "--name", `web-${i + 1}`],
            ],
            { STRATA_HEARTBEAT_MS: "300" },
          ),
        );
      }
      await waitFor("3 agents joined", async () => (await status(client)).servers.length === 3);
    });

    after(async () => {
      for (const agent of agents) killGroup(agent, "SIGTERM");
      for (const { child } of replicas) killGroup(child, "SIGTERM");
      await Promise.all(
        [...agents, ...replicas.map((r) => r.child)]
          .filter((c) => c.exitCode === null && c.signalCode === null)
          .map((c) => once(c, "exit")),
      );
      // Regression: both replicas' balancer daemons outlived every run (a `strata server`
      // stopped while servers are registered, or killed, leaves its data plane serving).
      for (const { dataDir } of replicas) await stopBalancerDaemon(dataDir);
      await new Promise((closed) => proxy?.close(closed));
      if (etcd && etcd.exitCode === null) {
        etcd.kill("SIGKILL");
        await once(etcd, "exit");
      }
      const db = new pg.Client({ connectionString: ENGINES.postgresUrl });
      await db.connect();
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.end();
      const left = processesUnder(realpathSync(dir));
      await rm(dir, { recursive: true, force: true });
      assert.deepEqual(left, [], "nothing of this run is left running");
    });

    const versions = () =>
      Promise.all(
        AGENTS.map(
          async (a) =>
            (JSON.parse((await get(`http://${a}:8080/`)).body) as { version: string }).version,
        ),
      );

    test("a deploy through a round-robin balancer reaches all three agents, whichever replica hears their reports", async () => {
      await build(client, EXAMPLE_APP, "1.0.0");
      counts.clear();
      const done = await deployAndWait(client, {
        version: "1.0.0",
        strategy: "rolling",
        batch: "1",
      });
      assert.equal(done.state, "succeeded", done.error ?? "");
      assert.deepEqual(await versions(), ["1.0.0", "1.0.0", "1.0.0"]);
      // One replica ran the deployment; agents reported to both (the other's went through etcd).
      assert.ok(
        reportsTo(replicas[0]!) > 0 && reportsTo(replicas[1]!) > 0,
        JSON.stringify(Object.fromEntries(counts)),
      );
      // The control plane hands agents a presigned URL instead of the bytes.
      const res = await fetch(`${replicas[1]!.url}/v1/releases/${done.release}/artifact`, {
        headers: { authorization: `Bearer ${adminToken}` },
        redirect: "manual",
      });
      assert.equal(res.status, 307);
      assert.match(res.headers.get("location") ?? "", /X-Amz-Signature=/);
    });

    /** NDJSON events of one ops call made on `replica` itself, not through the balancer. */
    async function opsCall<T>(
      replica: { url: string },
      path: string,
      body?: unknown,
    ): Promise<T[]> {
      const res = await fetch(replica.url + path, {
        method: body ? "POST" : "GET",
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      assert.equal(res.status, 200, await res.clone().text());
      return (await res.text())
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T);
    }

    // Regression: the task hub lived in one replica's memory, so an exec or a logs call made on
    // replica A for an agent long-polling replica B was never delivered (and posts reaching B
    // got 404): tasks and their output now travel through etcd.
    test("exec and logs issued on either replica reach agents that long-poll and post to the other", async () => {
      const tasksOn = (replica: { url: string }, what: RegExp) =>
        [...counts].filter(([key]) => what.test(key) && key.endsWith(replica.url)).length;
      counts.clear();
      for (let round = 0; round < 3; round++) {
        for (const replica of replicas) {
          const events = await opsCall<ExecEvent>(replica, "/v1/exec", {
            group: "web",
            argv: ["sh", "-c", "echo on-$STRATA_RELEASE_ID"],
          });
          const summary = events.find((e) => e.type === "summary");
          assert.ok(summary && summary.type === "summary" && summary.ok, JSON.stringify(events));
          assert.equal(summary.results.length, 3);
          for (const result of summary.results) assert.match(result.output, /^on-sha256:/);

          const logs = await opsCall<LogsEvent>(replica, "/v1/logs?group=web&source=agent&lines=3");
          const ended = logs.filter((e) => e.type === "end");
          assert.equal(ended.length, 3, JSON.stringify(logs));
          assert.ok(
            ended.every((e) => !("error" in e) || e.error === undefined),
            JSON.stringify(ended),
          );
          const servers = new Set(logs.flatMap((e) => (e.type === "output" ? [e.server] : [])));
          assert.equal(servers.size, 3, "every server's lines came back");
        }
      }
      for (const replica of replicas) {
        assert.ok(tasksOn(replica, /^GET \/v1\/agents\/tasks /) > 0, "agents polled both");
        assert.ok(
          tasksOn(replica, /^POST \/v1\/agents\/tasks\/[^/]+\/output /) > 0,
          `output posted to ${replica.url}: ${JSON.stringify(Object.fromEntries(counts))}`,
        );
      }
    });

    test(
      "kill -9 of the etcd member and a restart: agents reconnect, nothing is lost, and a deploy finishes",
      {
        skip: haveEtcdBinary
          ? false
          : "no etcd binary for a private member (apt-get install etcd-server)",
      },
      async () => {
        const list = async () =>
          (await client.get<{ deployments: DeploymentView[] }>("/v1/deployments")).deployments.map(
            (d) => [d.id, d.state],
          );
        const before = await list();
        etcd!.kill("SIGKILL");
        await once(etcd!, "exit");
        // While it is down the agents' long polls and heartbeats fail and are retried.
        await waitFor("a replica to notice", async () => {
          const res = await fetch(`${proxyUrl}/v1/deployments`, {
            method: "POST",
            headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
            body: JSON.stringify({ app: "hello", group: "web", version: "1.0.0" }),
          });
          await res.arrayBuffer();
          return res.status >= 500;
        });
        etcd = await startEtcd(join(dir, "etcd"));
        await waitFor("every agent back and ready", async () => {
          const s = await status(client);
          return s.servers.length === 3 && s.servers.every((x) => x.state === "ready") && s;
        });
        assert.deepEqual(
          await list(),
          before,
          "no deployment lost, none started while etcd was away",
        );
        const v15 = await variantOf(dir, { "message.txt": "one and a half\n" });
        await build(client, v15, "1.5.0");
        const done = await deployAndWait(client, {
          version: "1.5.0",
          strategy: "rolling",
          batch: "1",
        });
        assert.equal(done.state, "succeeded", done.error ?? "");
        assert.deepEqual(await versions(), ["1.5.0", "1.5.0", "1.5.0"]);
      },
    );

    test("kill -9 of the replica running a deployment mid-wave: the other finishes it from the reports agents send either", async () => {
      const v2 = await variantOf(dir, { "message.txt": "version two\n" });
      await build(client, v2, "2.0.0");
      // Started on the first replica, which then runs it; agents still alternate between both.
      const first = replicas[0]!.child;
      counts.clear();
      const started = await new ApiClient(replicas[0]!.url, adminToken).post<DeploymentView>(
        "/v1/deployments",
        {
          app: "hello",
          group: "web",
          version: "2.0.0",
          strategy: "rolling",
          batch: "1",
        },
      );
      await waitFor(
        "a wave to be under way",
        async () => {
          const d = await client.get<DeploymentView>(`/v1/deployments/${started.id}`);
          return d.servers.some((s) => s.state === "deploying");
        },
        60_000,
        20,
      );
      killGroup(first, "SIGKILL");
      await once(first, "exit");

      const ended = await waitForDeployment(client, started.id);
      assert.equal(ended.state, "succeeded", ended.error ?? "");
      assert.ok(reportsTo(replicas[1]!) > 0, "the survivor heard reports");
      await waitFor("every app healthy after the takeover", async () => {
        const s = await status(client);
        return s.servers.every((x) => x.state === "ready") && s;
      });
      assert.deepEqual(await versions(), ["2.0.0", "2.0.0", "2.0.0"]);

      const again = await deployAndWait(client, {
        version: "2.0.0",
        strategy: "rolling",
        batch: "1",
      });
      assert.equal(again.state, "succeeded", again.error ?? "");
      assert.deepEqual(await versions(), ["2.0.0", "2.0.0", "2.0.0"]);
      const verified = await client.get<AuditVerifyView>("/v1/audit/verify");
      assert.equal(verified.ok, true, JSON.stringify(verified.broken));
    });
  },
);
