import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { ENGINES, engineSkipReason } from "../../lib/engine-tests.js";
import { runArtifactStoreContract } from "../store.contract.js";
import { createS3ArtifactStore, type S3ArtifactStoreOptions } from "./s3-store.js";

const BUCKET = "strata-test";
const base: S3ArtifactStoreOptions = {
  endpoint: ENGINES.s3.endpoint,
  bucket: BUCKET,
  region: ENGINES.s3.region,
  credentials: {
    accessKeyId: ENGINES.s3.accessKeyId,
    secretAccessKey: ENGINES.s3.secretAccessKey,
  },
};
const skip = await engineSkipReason("S3 (Swift s3api)", () =>
  createS3ArtifactStore(base).ensureBucket(),
);

/** A store under a key prefix of its own in the shared test bucket. */
const open = (options: Partial<S3ArtifactStoreOptions> = {}) =>
  createS3ArtifactStore({ ...base, prefix: `t-${randomBytes(6).toString("hex")}/`, ...options });

function blob(size: number) {
  const bytes = randomBytes(size);
  return { bytes, id: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const chunked = (bytes: Buffer, size = 1024 * 1024) =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );

if (skip) {
  test("S3 artifact store", { skip }, () => {});
} else {
  runArtifactStoreContract({
    name: "s3 (Swift s3api)",
    async create() {
      return { store: open(), cleanup: async () => {} };
    },
  });

  describe("S3 artifact store", () => {
    test("a big artifact goes up in parts and reads back whole", async () => {
      const store = open({ partSize: 5 * 1024 * 1024, concurrency: 2 });
      const { bytes, id } = blob(12 * 1024 * 1024 + 123);
      assert.deepEqual(await store.put(id, chunked(bytes)), { size: bytes.length });
      const opened = await store.open(id);
      assert.equal(opened?.size, bytes.length);
      assert.ok((await readAll(opened!.stream)).equals(bytes));
      await store.delete(id);
    });

    test("a big upload with the wrong checksum leaves no object and no parts", async () => {
      const store = open({ partSize: 5 * 1024 * 1024 });
      const { bytes } = blob(11 * 1024 * 1024);
      const claimed = blob(10).id;
      await assert.rejects(store.put(claimed, chunked(bytes)), { code: "checksum_mismatch" });
      assert.equal(await store.has(claimed), false);
    });

    test("a range reads the bytes asked for", async () => {
      const store = open();
      const { bytes, id } = blob(100_000);
      await store.put(id, chunked(bytes));
      const part = await store.openRange(id, 1000, 1999);
      assert.equal(part?.size, 1000);
      assert.ok((await readAll(part!.stream)).equals(bytes.subarray(1000, 2000)));
      const tail = await store.openRange(id, 99_990);
      assert.ok((await readAll(tail!.stream)).equals(bytes.subarray(99_990)));
      assert.equal(await store.openRange(blob(5).id, 0, 10), null);
    });

    test("a presigned URL serves the artifact to a client without credentials, and only it", async () => {
      const store = open();
      const { bytes, id } = blob(50_000);
      await store.put(id, chunked(bytes));
      const url = await store.presign(id);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(bytes));
      const other = url.replace(/sha256\/[0-9a-f]{64}/, `sha256/${"0".repeat(64)}`);
      assert.equal((await fetch(other)).status, 403, "the signature covers the key");
    });

    test("a download cut off mid-body resumes with a ranged GET and yields every byte once", async () => {
      // A proxy in front of the store that cuts the first full GET after 64 KiB.
      const upstream = new URL(ENGINES.s3.endpoint);
      const seen: string[] = [];
      let cut = false;
      const proxy = http.createServer((req, res) => {
        seen.push(`${req.method} ${req.headers.range ?? "-"}`);
        const forward = http.request(
          {
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: req.headers,
          },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            const cutting = req.method === "GET" && !req.headers.range && !cut;
            let sent = 0;
            answer.on("data", (chunk: Buffer) => {
              if (cutting && sent + chunk.length > 65_536) {
                cut = true;
                res.write(chunk.subarray(0, 65_536 - sent));
                res.socket?.destroy();
                answer.destroy();
                return;
              }
              sent += chunk.length;
              res.write(chunk);
            });
            answer.on("end", () => res.end());
          },
        );
        req.pipe(forward);
      });
      await new Promise<void>((listening) => proxy.listen(0, "127.70.0.3", listening));
      try {
        const { port } = proxy.address() as AddressInfo;
        const store = open({ endpoint: `http://127.70.0.3:${port}` });
        const { bytes, id } = blob(1024 * 1024);
        await store.put(id, chunked(bytes));
        const opened = await store.open(id);
        assert.ok((await readAll(opened!.stream)).equals(bytes));
        assert.ok(cut, "the proxy cut the first download");
        assert.ok(
          seen.some((r) => r.startsWith("GET bytes=") && !r.startsWith("GET bytes=0-")),
          seen.join(", "),
        );
      } finally {
        proxy.closeAllConnections();
        await new Promise((closed) => proxy.close(closed));
      }
    });

    test("wrong credentials are refused with S3's reason", async () => {
      const store = open({ credentials: { accessKeyId: "test:tester", secretAccessKey: "wrong" } });
      await assert.rejects(store.open(blob(5).id), /HTTP 403 SignatureDoesNotMatch/);
      await assert.rejects(store.has(blob(5).id), /HTTP 403/);
    });
  });
}
