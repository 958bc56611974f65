import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { RELEASE_ID_PATTERN } from "../wire/release.js";

/** Incremental sha256 producing release ids. */
export interface Digest {
  update(chunk: Uint8Array): void;
  /** "sha256:<hex>" */
  id(): string;
}

export function createDigest(): Digest {
  const hash = createHash("sha256");
  let id: string | undefined;
  return {
    update(chunk) {
      if (id !== undefined) throw new Error("[artifact] digest: update() after id()");
      hash.update(chunk);
    },
    // Memoised: node's Hash cannot digest twice, and callers may ask again.
    id() {
      id ??= `sha256:${hash.digest("hex")}`;
      return id;
    },
  };
}

/** Release id of the file at `path`, read as a stream. */
export async function digestFile(path: string): Promise<string> {
  const digest = createDigest();
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    digest.update(chunk as Buffer);
  }
  return digest.id();
}

export function isReleaseId(value: string): boolean {
  return RELEASE_ID_PATTERN.test(value);
}
