import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import { readFile } from "node:fs/promises";
import { StrataError } from "../lib/errors.js";
import { writeOnce } from "../lib/write-once.js";

/** What a release signature covers: the artifact's content (its id and size) and its name. */
export interface ReleaseManifest {
  id: string;
  app: string;
  version: string;
  size: number;
}

/** The control plane's release-signing key pair (ed25519). */
export interface ReleaseSigner {
  /** Base64 ed25519 signature of the release's manifest. Pure; may run concurrently. */
  sign(release: ReleaseManifest): string;
  /**
   * Base64 signature binding a release's file manifest (its sha256 hex) to the
   * release id, for agents that build the release from files instead of the
   * tarball. Pure; may run concurrently.
   */
  signManifest(releaseId: string, manifestSha256: string): string;
  /** The public key as SPKI PEM, handed to agents at join and pinned there. */
  readonly publicKey: string;
}

/**
 * The bytes signed: one line per field under a version tag, so that no field
 * can run into the next (names and versions never hold a newline).
 */
export function manifestBytes(release: ReleaseManifest): Buffer {
  const { id, app, version, size } = release;
  return Buffer.from(`strata-release-v1\n${id}\n${app}\n${version}\n${size}\n`);
}

/** The bytes of a manifest signature: what tag, release and manifest digest it binds. */
export function manifestSignatureBytes(releaseId: string, manifestSha256: string): Buffer {
  return Buffer.from(`strata-files-v1\n${releaseId}\n${manifestSha256}\n`);
}

/**
 * Loads the signing key kept at `path` (PKCS#8 PEM), making it at first start
 * with mode 0600. Idempotent.
 */
export async function ensureReleaseSigner(path: string): Promise<ReleaseSigner> {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(await readFile(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const fresh = generateKeyPairSync("ed25519").privateKey;
    const pem = fresh.export({ type: "pkcs8", format: "pem" }) as string;
    // Two starting at once agree on one key: whichever linked its file first.
    privateKey = (await writeOnce(path, pem))
      ? fresh
      : createPrivateKey(await readFile(path, "utf8"));
  }
  const publicKey = createPublicKey(privateKey).export({ type: "spki", format: "pem" }) as string;
  return {
    sign: (release) => sign(null, manifestBytes(release), privateKey).toString("base64"),
    signManifest: (releaseId, sha256) =>
      sign(null, manifestSignatureBytes(releaseId, sha256), privateKey).toString("base64"),
    publicKey,
  };
}

/**
 * Throws StrataError("bad_signature") unless `signature` is `publicKey`'s
 * signature of the release's manifest. The agent calls it before it fetches
 * or unpacks anything.
 */
export function verifyReleaseSignature(
  release: ReleaseManifest,
  signature: string | undefined,
  publicKey: string,
): void {
  const name = `${release.app}@${release.version} (${release.id})`;
  if (!signature) {
    throw new StrataError("bad_signature", `[agent] verify: ${name} is not signed`);
  }
  let ok: boolean;
  try {
    ok = verify(null, manifestBytes(release), publicKey, Buffer.from(signature, "base64"));
  } catch (err) {
    throw new StrataError("bad_signature", `[agent] verify: ${name}: unusable signature or key`, {
      cause: err,
    });
  }
  if (!ok) {
    throw new StrataError(
      "bad_signature",
      `[agent] verify: ${name}: the signature does not match the control plane's key`,
    );
  }
}

/**
 * Throws StrataError("bad_signature") unless `signature` is `publicKey`'s
 * signature binding the manifest with sha256 `manifestSha256` to `releaseId`.
 * The agent calls it before it uses anything the manifest says.
 */
export function verifyManifestSignature(
  releaseId: string,
  manifestSha256: string,
  signature: string | undefined,
  publicKey: string,
): void {
  let ok = false;
  try {
    const bytes = manifestSignatureBytes(releaseId, manifestSha256);
    ok = !!signature && verify(null, bytes, publicKey, Buffer.from(signature, "base64"));
  } catch (err) {
    throw new StrataError("bad_signature", `[agent] verify: manifest of ${releaseId}: unusable`, {
      cause: err,
    });
  }
  if (!ok) {
    throw new StrataError(
      "bad_signature",
      `[agent] verify: the file manifest of ${releaseId} is not signed by the control plane's key`,
    );
  }
}
