// Regression for issue 8 defect 11 (the upload API accepts any bytes as a release):
// the archive is checked at upload, before the release is recorded.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { createDigest } from "./digest.js";
import { createLocalArtifactStore } from "./local/local-store.js";
import type { ArtifactStore } from "./store.js";
import { rawTar } from "./test-support.js";
import { verifyStoredRelease } from "./verify.js";

const DEFINITION = "start: node server.js\nport: 8080\n";

describe("verifyStoredRelease (issue 8 defect 11: uploads are checked)", () => {
  let dir: string;
  let artifacts: ArtifactStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-verify-"));
    artifacts = createLocalArtifactStore({ dir });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function put(bytes: Buffer): Promise<string> {
    const digest = createDigest();
    digest.update(bytes);
    await artifacts.put(digest.id(), Readable.from([bytes]));
    return digest.id();
  }

  test("a well-formed release passes and stays stored", async () => {
    const id = await put(
      gzipSync(
        rawTar([
          { name: "strata.yaml", data: DEFINITION },
          { name: "server.js", data: "// app" },
        ]),
      ),
    );
    const result = await verifyStoredRelease(artifacts, id);
    assert.equal(result.files, 2);
    assert.equal(result.definition.port, 8080);
    assert.equal(await artifacts.has(id), true);
  });

  const refused: [string, Buffer, RegExp][] = [
    ["random bytes", Buffer.from("not the tarball you are looking for"), /corrupt gzip data/],
    [
      "truncated gzip",
      gzipSync(rawTar([{ name: "strata.yaml", data: DEFINITION }])).subarray(0, 40),
      /truncated/,
    ],
    ["a path out of the tree", gzipSync(rawTar([{ name: "../evil", data: "x" }])), /\.\.\/evil/],
    [
      "a device",
      gzipSync(rawTar([{ name: "tty", type: "3" }])),
      /character device entries are not allowed/,
    ],
    [
      "no strata.yaml",
      gzipSync(rawTar([{ name: "server.js", data: "//" }])),
      /strata\.yaml: missing/,
    ],
    [
      "an invalid strata.yaml",
      gzipSync(rawTar([{ name: "strata.yaml", data: "port: 8080\n" }])),
      /strata\.yaml: start/,
    ],
  ];
  for (const [what, bytes, message] of refused) {
    test(`${what} is refused with a message naming the problem, and deleted`, async () => {
      const id = await put(bytes);
      await assert.rejects(verifyStoredRelease(artifacts, id), (err: Error & { code?: string }) => {
        assert.equal(err.code, "unsafe_archive");
        assert.match(err.message, /^\[artifact\] verify: /);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, new RegExp(dir), "no path of ours");
        return true;
      });
      assert.equal(await artifacts.has(id), false);
    });
  }
});
