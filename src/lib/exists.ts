import { lstat } from "node:fs/promises";

/** Whether anything (a link included, not followed) is at `path`; errors other than ENOENT throw. */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
