import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

export interface UnshareResult {
  /** Blobs that shared their inode with a file outside the store and now have their own. */
  unshared: number;
  /** Blobs whose content no longer matched their sha256 (written through a release file): removed. */
  dropped: number;
}

/**
 * Gives every blob of `<root>/store` that shares its inode with another file
 * (a root cloned from a golden image, whose release files are links to its
 * blobs) an inode of its own. Needed where apps run as the agent's own
 * account (FileMode `copy`), which could make a linked release file writable
 * and so change the blob. Each such blob is copied while it is hashed: a copy
 * that matches the blob's sha256 replaces it (renamed over it), one that does
 * not means the app wrote through it, and the blob is removed (a release that
 * needs that content fetches it again). Runs before any build from the store;
 * idempotent.
 */
export async function unshareStore(root: string): Promise<UnshareResult> {
  const blobs = join(root, "store", "blobs");
  const tmp = join(root, "store", "tmp");
  const result: UnshareResult = { unshared: 0, dropped: 0 };
  const fans = await readdir(blobs).catch(() => [] as string[]);
  if (fans.length > 0) await mkdir(tmp, { recursive: true, mode: 0o700 });
  for (const fan of fans) {
    for (const name of await readdir(join(blobs, fan))) {
      const blob = join(blobs, fan, name);
      const stat = await lstat(blob);
      if (!stat.isFile() || stat.nlink < 2) continue;
      const temp = join(tmp, `unshare-${randomBytes(6).toString("hex")}`);
      const hash = createHash("sha256");
      await pipeline(
        createReadStream(blob),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp, { flags: "wx", mode: 0o600 }),
      );
      if (hash.digest("hex") !== name.replace(/\.x$/, "")) {
        await rm(temp, { force: true });
        await rm(blob, { force: true });
        result.dropped++;
        continue;
      }
      await chmod(temp, name.endsWith(".x") ? 0o555 : 0o444);
      await rename(temp, blob);
      result.unshared++;
    }
  }
  return result;
}
