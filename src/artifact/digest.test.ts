import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createDigest, digestFile, isReleaseId } from "./digest.js";

test("createDigest hashes chunks as one stream and formats the id", () => {
  const data = randomBytes(100_000);
  const digest = createDigest();
  for (let i = 0; i < data.length; i += 7_001) digest.update(data.subarray(i, i + 7_001));
  const expected = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  assert.equal(digest.id(), expected);
  assert.equal(digest.id(), expected, "id() may be asked twice");
  assert.throws(() => digest.update(data), /after id/);
});

test("digestFile matches the hash of the file's bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-digest-"));
  try {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(join(dir, "f"), data);
    assert.equal(
      await digestFile(join(dir, "f")),
      `sha256:${createHash("sha256").update(data).digest("hex")}`,
    );
    await assert.rejects(digestFile(join(dir, "missing")), { code: "ENOENT" });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("isReleaseId accepts only sha256:<64 lowercase hex>", () => {
  const hex = "0123456789abcdef".repeat(4);
  assert.equal(isReleaseId(`sha256:${hex}`), true);
  assert.equal(isReleaseId(hex), false);
  assert.equal(isReleaseId(`sha256:${hex.toUpperCase()}`), false);
  assert.equal(isReleaseId(`sha256:${hex}0`), false);
  assert.equal(isReleaseId(`sha256:${hex.slice(1)}`), false);
  assert.equal(isReleaseId(`sha512:${hex}`), false);
  assert.equal(isReleaseId(`sha256:${hex}\n`), false);
});
