import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureReleaseSigner, verifyManifestSignature, verifyReleaseSignature } from "./signing.js";

describe("release signatures (issue 8: signed releases)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "strata-signing-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const release = { id: `sha256:${"a".repeat(64)}`, app: "hello", version: "1.0.0", size: 1234 };

  test("the key is made once, kept 0600, and the same after a restart", async () => {
    const path = join(dir, "release-signing-key.pem");
    const first = await ensureReleaseSigner(path);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const again = await ensureReleaseSigner(path);
    assert.equal(again.publicKey, first.publicKey);
    assert.match(first.publicKey, /^-----BEGIN PUBLIC KEY-----/);
    assert.doesNotMatch(await readFile(path, "utf8"), /PUBLIC/);
    verifyReleaseSignature(release, again.sign(release), first.publicKey);
  });

  test("a tampered manifest, another key or no signature is refused", async () => {
    const signer = await ensureReleaseSigner(join(dir, "a.pem"));
    const other = await ensureReleaseSigner(join(dir, "b.pem"));
    const signature = signer.sign(release);
    const cases: [string, () => void, RegExp][] = [
      [
        "version",
        () => verifyReleaseSignature({ ...release, version: "6.6.6" }, signature, signer.publicKey),
        /does not match/,
      ],
      [
        "id",
        () =>
          verifyReleaseSignature(
            { ...release, id: `sha256:${"b".repeat(64)}` },
            signature,
            signer.publicKey,
          ),
        /does not match/,
      ],
      [
        "wrong key",
        () => verifyReleaseSignature(release, signature, other.publicKey),
        /does not match/,
      ],
      [
        "unsigned",
        () => verifyReleaseSignature(release, undefined, signer.publicKey),
        /is not signed/,
      ],
      ["garbage key", () => verifyReleaseSignature(release, signature, "not a key"), /unusable/],
    ];
    for (const [what, check, message] of cases) {
      assert.throws(check, { code: "bad_signature", message }, what);
    }
  });
  test("a file manifest's signature binds its digest to the release id (issue 13)", async () => {
    const signer = await ensureReleaseSigner(join(dir, "files.pem"));
    const digest = "b".repeat(64);
    const signature = signer.signManifest(release.id, digest);
    verifyManifestSignature(release.id, digest, signature, signer.publicKey);
    const refused: Array<[string, string, string | undefined]> = [
      ["another manifest", "c".repeat(64), signature],
      ["another release's", digest, signer.signManifest(`sha256:${"d".repeat(64)}`, digest)],
      ["a release signature", digest, signer.sign(release)],
      ["none", digest, undefined],
    ];
    for (const [what, sha256, sig] of refused) {
      assert.throws(
        () => verifyManifestSignature(release.id, sha256, sig, signer.publicKey),
        { code: "bad_signature" },
        what,
      );
    }
  });
});
