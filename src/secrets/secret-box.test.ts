import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createSecretBox, ensureSecretBox } from "./secret-box.js";

test("a sealed value opens under its key and context only", () => {
  const box = createSecretBox(randomBytes(32));
  const sealed = box.seal("p@ss w0rd", "hello/DB_PASSWORD");
  assert.ok(!sealed.includes("p@ss"));
  assert.notEqual(box.seal("p@ss w0rd", "hello/DB_PASSWORD"), sealed, "a fresh nonce each time");
  assert.equal(box.open(sealed, "hello/DB_PASSWORD"), "p@ss w0rd");
  assert.throws(() => box.open(sealed, "other/DB_PASSWORD"), /cannot open/);
  assert.throws(
    () => createSecretBox(randomBytes(32)).open(sealed, "hello/DB_PASSWORD"),
    /cannot open/,
  );
  const altered = sealed.slice(0, -4) + (sealed.endsWith("AAAA") ? "BBBB" : "AAAA");
  assert.throws(() => box.open(altered, "hello/DB_PASSWORD"), /cannot open|not a sealed/);
  assert.throws(() => box.open("plain", "hello/X"), /not a sealed value/);
});

test("the key file is made once, 0600, and two opening at once agree on it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-secrets-"));
  try {
    const path = join(dir, "secrets-key");
    const [a, b] = await Promise.all([ensureSecretBox(path), ensureSecretBox(path)]);
    assert.equal(b.open(a.seal("x", "c"), "c"), "x");
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = await ensureSecretBox(path);
    assert.equal(again.open(a.seal("y", "c"), "c"), "y");
    assert.equal(Buffer.from((await readFile(path, "utf8")).trim(), "base64").length, 32);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
