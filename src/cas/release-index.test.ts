import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { inflateRawSync } from "node:zlib";
import * as tar from "tar";
import { verifyArchive } from "../artifact/extract.js";
import { createLocalArtifactStore } from "../artifact/local/local-store.js";
import { packDirectory } from "../artifact/pack.js";
import { MANIFEST_FILE, parseManifest } from "./manifest.js";
import { packFrames, readFrames, selectBlobs } from "./pack-stream.js";
import { createReleaseIndexer, storeReleaseIndex } from "./release-index.js";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "strata-cas-index-"));
});
after(() => rm(work, { recursive: true, force: true }));

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

async function packed(name: string, files: Record<string, string>) {
  const dir = join(work, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return packDirectory(dir, join(work, `${name}.tar.gz`));
}

async function index(file: string) {
  const indexer = createReleaseIndexer();
  await verifyArchive(createReadStream(file), "the archive", {}, indexer.visitor);
  return indexer.result();
}

describe("release index (upload side) and pack stream", () => {
  test("every distinct content is one blob; the manifest member is checked and kept", async () => {
    const big = "text that compresses ".repeat(2000);
    const result = await packed("good", { "a.txt": big, "b/copy.txt": big, "c.txt": "c\n" });
    const indexed = await index(result.file);
    assert.ok(indexed);
    const entries = parseManifest(indexed.manifest, { maxBytes: 1e9, maxEntries: 100 });
    assert.deepEqual(
      entries.map((e) => e.path),
      ["a.txt", "b", "b/copy.txt", "c.txt"],
    );
    assert.deepEqual(Object.keys(indexed.index).sort(), [sha(big), sha("c\n")].sort());
    const [offset, length, raw] = indexed.index[sha(big)]!;
    assert.equal(raw, 0, "text is deflated");
    assert.ok(length < big.length / 10);
    const blob = inflateRawSync(indexed.blobs.subarray(offset, offset + length));
    assert.equal(blob.toString(), big);
  });

  test("a manifest member that disagrees with the archive is refused", async () => {
    const dir = join(work, "forged");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "a.txt"), "real\n");
    await writeFile(
      join(dir, MANIFEST_FILE),
      `strata-manifest-v1\n["f","a.txt","0644",5,"${sha("fake\n")}"]\n`,
    );
    const file = join(work, "forged.tar.gz");
    await tar.c({ gzip: true, file, cwd: dir, portable: true }, ["a.txt", MANIFEST_FILE]);
    await assert.rejects(index(file), { code: "unsafe_archive", message: /does not match/ });
  });

  test("a tarball without a manifest gets no index", async () => {
    const dir = join(work, "plain");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "a.txt"), "a\n");
    const file = join(work, "plain.tar.gz");
    await tar.c({ gzip: true, file, cwd: dir, portable: true }, ["a.txt"]);
    assert.equal(await index(file), null);
  });

  test("a pack answer holds the blobs asked for, which read back and verify", async () => {
    const files = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`f${i}.txt`, `content ${i}\n`.repeat(i + 1)]),
    );
    const result = await packed("served", files);
    const indexed = (await index(result.file))!;
    const artifacts = createLocalArtifactStore({ dir: join(work, "artifacts") });
    await artifacts.put(result.id, createReadStream(result.file));
    await storeReleaseIndex(artifacts, result.id, indexed);

    const want = [sha(files["f3.txt"]!), sha(files["f40.txt"]!)];
    const frames = [];
    const body = Readable.from(
      packFrames(artifacts, result.id, selectBlobs(indexed.index, { want })),
    );
    for await (const frame of readFrames(body, 1e6)) frames.push(frame);
    assert.deepEqual(frames.map((f) => f.sha256).sort(), [...want].sort());
    for (const frame of frames) {
      const data = frame.raw ? frame.data : inflateRawSync(frame.data);
      assert.equal(sha(data), frame.sha256);
    }
    const all = selectBlobs(indexed.index, { except: want });
    assert.equal(all.length, Object.keys(indexed.index).length - 2);
    assert.throws(() => selectBlobs(indexed.index, { want: ["b".repeat(64)] }), {
      code: "bad_request",
    });
  });

  test("a body cut inside a frame, or a frame over the limit, is refused", async () => {
    const header = Buffer.alloc(37);
    header.writeUInt32BE(10, 33);
    const cut = Readable.from([header, Buffer.alloc(4)]);
    await assert.rejects(async () => {
      for await (const _ of readFrames(cut, 100)) void _;
    }, /ended inside a frame/);
    const huge = Buffer.alloc(37);
    huge.writeUInt32BE(1000, 33);
    await assert.rejects(async () => {
      for await (const _ of readFrames(Readable.from([huge]), 100)) void _;
    }, /a frame of 1000 bytes/);
  });
});
