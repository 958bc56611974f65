import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import { fetchArtifact, type FetchArtifactOptions } from "./download.js";
/** A loopback address of this test alone (127.40.0.0/16). */
const randomLoopback = () =>
  `127.40.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;

const BODY = randomBytes(3 * 1024 * 1024 + 17);
const BODY_ID = `sha256:${createHash("sha256").update(BODY).digest("hex")}`;

describe("fetchArtifact", () => {
  let dir: string;
  let server: Server;
  let base: string;
  let handler: (req: IncomingMessage, res: ServerResponse, n: number) => void;
  let requests: IncomingMessage[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-fetch-"));
    server = createServer((req, res) => {
      requests.push(req);
      handler(req, res, requests.length);
    });
    await new Promise<void>((resolve) => server.listen(0, randomLoopback(), resolve));
    const { address, port } = server.address() as AddressInfo;
    base = `http://${address}:${port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    requests = [];
  });

  const options = (extra: Partial<FetchArtifactOptions> = {}): FetchArtifactOptions => ({
    url: `${base}/v1/releases/${BODY_ID}/artifact`,
    token: "agent-token",
    releaseId: BODY_ID,
    size: BODY.length,
    dest: join(dir, "release.tar"),
    clock: systemClock,
    random: () => 0,
    ...extra,
  });
  const leftovers = async () => (await readdir(dir)).filter((name) => name !== "release.tar");

  test("retries 5xx and a truncated body, then verifies and renames into place", async () => {
    await rm(join(dir, "release.tar"), { force: true });
    handler = (_req, res, n) => {
      if (n === 1) return void res.writeHead(503).end("busy");
      if (n === 2) {
        res.writeHead(200, { "content-length": BODY.length });
        res.write(BODY.subarray(0, 1000));
        return void setTimeout(() => res.destroy(), 20);
      }
      res.writeHead(200, { "content-length": BODY.length }).end(BODY);
    };
    const result = await fetchArtifact(options());
    assert.equal(result.attempts, 3);
    assert.equal(requests[0]?.headers.authorization, "Bearer agent-token");
    assert.ok((await readFile(join(dir, "release.tar"))).equals(BODY));
    assert.deepEqual(await leftovers(), []);
  });

  test("a complete body with the wrong checksum fails at once, naming both ids", async () => {
    const corrupt = Buffer.from(BODY);
    corrupt[corrupt.length >> 1]! ^= 0xff;
    const corruptId = `sha256:${createHash("sha256").update(corrupt).digest("hex")}`;
    handler = (_req, res) => void res.writeHead(200).end(corrupt);
    const dest = join(dir, "corrupt.tar");
    await assert.rejects(fetchArtifact(options({ dest })), (err: unknown) => {
      assert.ok(err instanceof StrataError);
      assert.equal(err.code, "checksum_mismatch");
      assert.equal(
        err.message,
        `[agent] fetch: checksum mismatch for ${BODY_ID} (got ${corruptId})`,
      );
      return true;
    });
    assert.equal(requests.length, 1, "a corrupt stored artifact is not downloaded again");
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith("corrupt")),
      [],
    );
  });

  test("a body longer than the recorded size is refused", async () => {
    handler = (_req, res) => void res.writeHead(200).end(Buffer.concat([BODY, Buffer.from("x")]));
    const dest = join(dir, "long.tar");
    await assert.rejects(fetchArtifact(options({ dest })), /larger than its recorded/);
    assert.equal(requests.length, 1);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith("long")),
      [],
    );
  });

  test("401 and 404 are not retried", async () => {
    handler = (_req, res) => void res.writeHead(401).end();
    await assert.rejects(fetchArtifact(options({ dest: join(dir, "a.tar") })), {
      code: "unauthorized",
    });
    handler = (_req, res) => void res.writeHead(404).end();
    await assert.rejects(fetchArtifact(options({ dest: join(dir, "a.tar") })), {
      code: "not_found",
    });
    assert.equal(requests.length, 2);
  });

  test("gives up after the configured tries with `unavailable`", async () => {
    handler = (_req, res) => void res.writeHead(500).end();
    await assert.rejects(fetchArtifact(options({ dest: join(dir, "b.tar"), attempts: 3 })), {
      code: "unavailable",
      message: /HTTP 500 \(gave up after 3 tries\)/,
    });
    assert.equal(requests.length, 3);
  });

  test("abort stops a download in progress and leaves nothing", async () => {
    const controller = new AbortController();
    handler = (_req, res) => {
      res.writeHead(200, { "content-length": BODY.length });
      res.write(BODY.subarray(0, 64 * 1024), () => controller.abort(new Error("shutting down")));
    };
    const dest = join(dir, "aborted.tar");
    await assert.rejects(
      fetchArtifact(options({ dest, signal: controller.signal })),
      /shutting down/,
    );
    assert.equal(requests.length, 1);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.startsWith("aborted")),
      [],
    );
  });
});
