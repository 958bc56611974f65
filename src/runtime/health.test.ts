import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { systemClock } from "../lib/clock.js";
import type { HealthDefinition } from "../config/app-definition.js";
import { checkHealth } from "./health.js";
import { randomLoopback } from "../lib/test-support.js";

describe("checkHealth", () => {
  let server: Server;
  let host: string;
  let port: number;
  let statuses: number[] = [];
  let paths: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      paths.push(req.url ?? "");
      if (req.url === "/hang") return; // never answers
      res.writeHead(statuses.shift() ?? 200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
    ({ address: host, port } = server.address() as AddressInfo);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const health = (extra: Partial<HealthDefinition> = {}): HealthDefinition => ({
    path: "/healthz",
    status: 200,
    timeoutMs: 2000,
    retries: 5,
    intervalMs: 10,
    ...extra,
  });

  test("retries until the expected status and counts the tries", async () => {
    statuses = [503, 503, 200];
    paths = [];
    assert.equal(await checkHealth({ host, port, health: health(), clock: systemClock }), 3);
    assert.deepEqual(paths, ["/healthz", "/healthz", "/healthz"]);
  });

  test("fails after 1 + retries tries, naming the last answer", async () => {
    statuses = [500, 500, 500, 500];
    await assert.rejects(
      checkHealth({ host, port, health: health({ retries: 2, status: 204 }), clock: systemClock }),
      {
        code: "health_check_failed",
        message: `[agent] health_check: GET http://${host}:${port}/healthz: expected 204, got HTTP 500 (3 tries)`,
      },
    );
  });

  test("a try that takes longer than the timeout counts as failed", async () => {
    await assert.rejects(
      checkHealth({
        host,
        port,
        health: health({ path: "/hang", retries: 0, timeoutMs: 100 }),
        clock: systemClock,
      }),
      /got timed out \(1 tries\)/,
    );
  });

  test("a refused connection is retried, then reported", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, host, resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      checkHealth({ host, port: closedPort, health: health({ retries: 1 }), clock: systemClock }),
      /got ECONNREFUSED \(2 tries\)/,
    );
  });

  test("abort stops the retries", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stopping"));
    statuses = [500];
    await assert.rejects(
      checkHealth({ host, port, health: health(), clock: systemClock, signal: controller.signal }),
      /stopping/,
    );
  });
});
