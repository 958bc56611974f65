import { randomBytes } from "node:crypto";
import { chmod, link, rm, writeFile } from "node:fs/promises";

/**
 * Creates `path` with `data` (mode 0600) unless it exists, atomically: the
 * bytes are written whole beside it, then linked into place, so a second
 * process starting at once never reads a file that exists but is still empty.
 * Returns false when `path` existed (the caller reads what is there).
 */
export async function writeOnce(path: string, data: string): Promise<boolean> {
  const draft = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await writeFile(draft, data, { mode: 0o600 });
    await chmod(draft, 0o600);
    return await link(draft, path).then(
      () => true,
      (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw err;
      },
    );
  } finally {
    await rm(draft, { force: true });
  }
}
