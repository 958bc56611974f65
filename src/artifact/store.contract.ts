import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import { StrataError } from "../lib/errors.js";
import type { ArtifactStore } from "./store.js";

export interface ArtifactStoreContractOptions {
  /** Name shown in the test report, e.g. "local". */
  name: string;
  /** Builds a fresh, empty store for one test; `cleanup` runs after it, pass or fail. */
  create: () => Promise<{ store: ArtifactStore; cleanup: () => Promise<void> }>;
  /** Contract tests to skip, by test name, each with the reason (shown in the report). */
  skip?: Record<string, string>;
}

/**
 * The behaviour every ArtifactStore must have. Run it from each
 * implementation's test file: `runArtifactStoreContract({ name, create })`.
 */
export function runArtifactStoreContract(options: ArtifactStoreContractOptions): void {
  const skip = options.skip ?? {};
  const contractTest = (name: string, body: (store: ArtifactStore) => Promise<void>) =>
    test(name, { skip: skip[name] ?? false }, async () => {
      const { store, cleanup } = await options.create();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });

  describe(`ArtifactStore contract: ${options.name}`, () => {
    contractTest("put then open returns the same bytes and size", async (store) => {
      const blob = makeBlob(300_000);
      assert.deepEqual(await store.put(blob.id, chunked(blob.bytes)), { size: blob.bytes.length });
      const opened = await store.open(blob.id);
      assert.ok(opened);
      assert.equal(opened.size, blob.bytes.length);
      assert.ok((await readAll(opened.stream)).equals(blob.bytes));
    });

    contractTest("has follows put and delete", async (store) => {
      const blob = makeBlob(1000);
      assert.equal(await store.has(blob.id), false);
      await store.put(blob.id, chunked(blob.bytes));
      assert.equal(await store.has(blob.id), true);
      await store.delete(blob.id);
      assert.equal(await store.has(blob.id), false);
      assert.equal(await store.open(blob.id), null);
    });

    contractTest("open and has of a missing id: null and false", async (store) => {
      const blob = makeBlob(10);
      assert.equal(await store.open(blob.id), null);
      assert.equal(await store.has(blob.id), false);
    });

    contractTest("delete of a missing id succeeds", async (store) => {
      await store.delete(makeBlob(10).id);
    });

    contractTest("put of an id already stored keeps it and reports its size", async (store) => {
      const blob = makeBlob(5000);
      await store.put(blob.id, chunked(blob.bytes));
      assert.deepEqual(await store.put(blob.id, chunked(blob.bytes)), { size: blob.bytes.length });
      const opened = await store.open(blob.id);
      assert.ok(opened && (await readAll(opened.stream)).equals(blob.bytes));
    });

    contractTest("checksum mismatch rejects, names both ids and stores nothing", async (store) => {
      const claimed = makeBlob(2000);
      const sent = makeBlob(2000);
      await assert.rejects(store.put(claimed.id, chunked(sent.bytes)), (err: unknown) => {
        assert.ok(err instanceof StrataError);
        assert.equal(err.code, "checksum_mismatch");
        assert.ok(err.message.includes(claimed.id), err.message);
        assert.ok(err.message.includes(sent.id), err.message);
        return true;
      });
      assert.equal(await store.has(claimed.id), false);
      assert.equal(await store.has(sent.id), false);
      assert.equal(await store.open(claimed.id), null);
    });

    contractTest("a mismatching put of an id already stored leaves it intact", async (store) => {
      const blob = makeBlob(2000);
      await store.put(blob.id, chunked(blob.bytes));
      const other = makeBlob(2000);
      await assert.rejects(store.put(blob.id, chunked(other.bytes)), { code: "checksum_mismatch" });
      const opened = await store.open(blob.id);
      assert.ok(opened && (await readAll(opened.stream)).equals(blob.bytes));
    });

    contractTest("a malformed id is rejected", async (store) => {
      await assert.rejects(store.put("sha256:nothex", chunked(Buffer.from("x"))), {
        code: "bad_request",
      });
    });

    contractTest("a source that fails mid-stream stores nothing", async (store) => {
      const blob = makeBlob(100_000);
      const failing = Readable.from(
        (async function* () {
          yield blob.bytes.subarray(0, 50_000);
          throw new Error("connection reset");
        })(),
      );
      await assert.rejects(store.put(blob.id, failing), /connection reset/);
      assert.equal(await store.has(blob.id), false);
    });

    contractTest("concurrent puts of the same id all succeed with one copy", async (store) => {
      const blob = makeBlob(1_000_000);
      const results = await Promise.all(
        Array.from({ length: 6 }, () => store.put(blob.id, chunked(blob.bytes, 8192))),
      );
      for (const result of results) assert.equal(result.size, blob.bytes.length);
      const opened = await store.open(blob.id);
      assert.ok(opened && (await readAll(opened.stream)).equals(blob.bytes));
    });

    contractTest("concurrent puts of different ids are all stored", async (store) => {
      const blobs = Array.from({ length: 5 }, (_, i) => makeBlob(10_000 + i));
      await Promise.all(blobs.map((blob) => store.put(blob.id, chunked(blob.bytes))));
      for (const blob of blobs) {
        const opened = await store.open(blob.id);
        assert.ok(opened && (await readAll(opened.stream)).equals(blob.bytes));
      }
    });

    contractTest("a stream opened before delete still reads the whole artifact", async (store) => {
      const blob = makeBlob(200_000);
      await store.put(blob.id, chunked(blob.bytes));
      const opened = await store.open(blob.id);
      assert.ok(opened);
      await store.delete(blob.id);
      assert.ok((await readAll(opened.stream)).equals(blob.bytes));
    });

    contractTest("a part is stored beside its tarball, replaced and read whole", async (store) => {
      const blob = makeBlob(1000);
      await store.put(blob.id, chunked(blob.bytes));
      assert.equal(await store.openPart(blob.id, "index"), null);
      await store.putPart(blob.id, "index", Buffer.from("first"));
      await store.putPart(blob.id, "index", Buffer.from("second"));
      const opened = await store.openPart(blob.id, "index");
      assert.ok(opened);
      assert.equal(opened.size, 6);
      assert.equal((await readAll(opened.stream)).toString(), "second");
      assert.equal(await store.openPart(blob.id, "manifest"), null);
    });

    contractTest("ranged reads of a part return the bytes asked for", async (store) => {
      const blob = makeBlob(1000);
      const part = randomBytes(300_000);
      await store.put(blob.id, chunked(blob.bytes));
      await store.putPart(blob.id, "blobs", part);
      for (const [start, end] of [
        [0, 0],
        [10, 99],
        [150_000, 299_999],
      ] as const) {
        const opened = await store.openPart(blob.id, "blobs", { start, end });
        assert.ok(opened);
        assert.equal(opened.size, end - start + 1);
        assert.ok((await readAll(opened.stream)).equals(part.subarray(start, end + 1)));
      }
    });

    contractTest("delete removes the parts too", async (store) => {
      const blob = makeBlob(1000);
      await store.put(blob.id, chunked(blob.bytes));
      await store.putPart(blob.id, "manifest", Buffer.from("m"));
      await store.delete(blob.id);
      assert.equal(await store.openPart(blob.id, "manifest"), null);
    });
  });
}

function makeBlob(size: number): { bytes: Buffer; id: string } {
  const bytes = randomBytes(size);
  return { bytes, id: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}

function chunked(bytes: Buffer, chunkSize = 65536): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
