import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { gunzipSync } from "node:zlib";
import { parallelGzip } from "./parallel-gzip.js";

const MiB = 1024 * 1024;

async function gzip(
  data: Buffer,
  level: number,
  concurrency: number,
  piece = 100_000,
): Promise<Buffer> {
  async function* pieces() {
    for (let i = 0; i < data.length; i += piece) yield data.subarray(i, i + piece);
  }
  const out: Buffer[] = [];
  for await (const chunk of parallelGzip({ level, concurrency })(pieces())) out.push(chunk);
  return Buffer.concat(out);
}

/** Compressible text with repeats that cross block edges, plus incompressible stretches. */
function sample(size: number): Buffer {
  const text = Buffer.from(
    "function handler(request, response) { return response.json({ ok: true }); }\n".repeat(
      size / 80,
    ),
  );
  const data = Buffer.concat([text, randomBytes(size / 4), text]);
  return data.subarray(0, size);
}

for (const size of [0, 1, 1000, MiB, MiB + 1, 3 * MiB + 12345]) {
  test(`parallelGzip round trips ${size} bytes through a standard gunzip`, async () => {
    const data = sample(size);
    const gz = await gzip(data, 6, 3);
    assert.ok(gunzipSync(gz).equals(data));
  });
}

test("parallelGzip output depends on the input and level only, not on concurrency or input chunking", async () => {
  const data = sample(5 * MiB);
  const one = await gzip(data, 6, 1, 4096);
  const many = await gzip(data, 6, 4, 777_777);
  assert.ok(one.equals(many));
  assert.ok(!(await gzip(data, 1, 2)).equals(one));
});

test("parallelGzip keeps the previous block as dictionary (compresses like one stream)", async () => {
  // Block 2 repeats the last 16 KiB of block 1 (random, so incompressible on its own):
  // it shrinks to almost nothing only when block 1's tail is its dictionary.
  const first = randomBytes(MiB);
  const gz = await gzip(Buffer.concat([first, first.subarray(MiB - 16 * 1024)]), 6, 2);
  assert.ok(gz.length < MiB + 4 * 1024, `size ${gz.length}`);
});

test("parallelGzip writes a fixed header: no name, no mtime, OS Unix", async () => {
  const gz = await gzip(Buffer.from("x"), 6, 1);
  assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
});
