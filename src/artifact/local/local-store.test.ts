import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { digestFile } from "../digest.js";
import { createArtifactStore } from "../index.js";
import { runArtifactStoreContract } from "../store.contract.js";
import { createLocalArtifactStore, localArtifactPath } from "./local-store.js";

runArtifactStoreContract({
  name: "local",
  async create() {
    const dir = await mkdtemp(join(tmpdir(), "strata-store-"));
    return {
      store: createLocalArtifactStore({ dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

function blob(size: number) {
  const bytes = randomBytes(size);
  return { bytes, id: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
}

test("local store: layout is <dir>/sha256/<hex>.tar.gz and leaves no temp files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-store-"));
  try {
    const store = createLocalArtifactStore({ dir });
    const { bytes, id } = blob(4096);
    await store.put(id, Readable.from([bytes]));
    await assert.rejects(store.put(id, Readable.from([randomBytes(10)])), {
      code: "checksum_mismatch",
    });
    const path = localArtifactPath(dir, id);
    assert.equal(path, join(dir, "sha256", `${id.slice(7)}.tar.gz`));
    assert.equal(await digestFile(path), id);
    assert.deepEqual(await readdir(join(dir, "sha256")), [`${id.slice(7)}.tar.gz`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("local store: open serves a corrupted file as it is (the agent verifies)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-store-"));
  try {
    const store = createLocalArtifactStore({ dir });
    const { bytes, id } = blob(4096);
    await store.put(id, Readable.from([bytes]));
    const corrupt = Buffer.from(bytes);
    corrupt[100] = (corrupt[100] ?? 0) ^ 0xff;
    await writeFile(localArtifactPath(dir, id), corrupt);
    const opened = await store.open(id);
    assert.ok(opened);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
    assert.ok(Buffer.concat(chunks).equals(corrupt));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("createArtifactStore builds a local store and rejects unknown kinds", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-store-"));
  try {
    const store = createArtifactStore("local", { dir });
    const { bytes, id } = blob(100);
    await store.put(id, Readable.from([bytes]));
    assert.equal(await store.has(id), true);
    assert.throws(() => createArtifactStore("s4" as "local", { dir }), {
      code: "invalid_config",
      message: /unknown store kind "s4"/,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
