import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../lib/errors.js";
import { runInGroup, type RunInGroupOptions, type RunResult } from "../lib/process.js";

/** The script of a recipe folder that runs after its files are copied; it is not copied itself. */
export const PROVISION_SCRIPT = "provision.sh";

/**
 * Content hash of a recipe folder, `sha256:<hex>`: sha256 over its entries
 * sorted by relative path (`/`-separated, byte order), each as kind, path,
 * permission bits and content hash (symlinks: their target). Timestamps and
 * owners do not count, so a fresh checkout hashes the same. Rejects a socket,
 * FIFO or device with "bad_request", a missing folder with "not_found".
 */
export async function hashRecipe(dir: string): Promise<string> {
  const info = await lstat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new StrataError("not_found", `[image] recipe: ${dir} is not a folder`);
  const manifest = createHash("sha256");
  const entries: { rel: string; abs: string }[] = [];
  async function walk(abs: string, rel: string): Promise<void> {
    for (const name of await readdir(abs)) {
      const childRel = rel ? `${rel}/${name}` : name;
      entries.push({ rel: childRel, abs: join(abs, name) });
      if ((await lstat(join(abs, name))).isDirectory()) await walk(join(abs, name), childRel);
    }
  }
  await walk(dir, "");
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
  for (const { rel, abs } of entries) {
    const stats = await lstat(abs);
    const mode = (stats.mode & 0o7777).toString(8);
    if (stats.isDirectory()) manifest.update(`d ${JSON.stringify(rel)} ${mode}\n`);
    else if (stats.isSymbolicLink())
      manifest.update(`l ${JSON.stringify(rel)} ${JSON.stringify(await readlink(abs))}\n`);
    else if (stats.isFile())
      manifest.update(`f ${JSON.stringify(rel)} ${mode} ${await fileHash(abs)}\n`);
    else
      throw new StrataError("bad_request", `[image] recipe: ${rel}: not a file, folder or symlink`);
  }
  return `sha256:${manifest.digest("hex")}`;
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** The argv that runs a provision script. */
export function provisionArgv(script: string): string[] {
  return ["/bin/sh", script];
}

export interface RunProvisionOptions extends Omit<RunInGroupOptions, "label"> {
  /** Absolute path of provision.sh; `cwd` is the image root being built. */
  script: string;
}

export type ProvisionResult = RunResult;

/** Runs provision.sh in its own process group, with its timeout; never rejects for a failing script. */
export function runProvision(options: RunProvisionOptions): Promise<ProvisionResult> {
  return runInGroup(provisionArgv(options.script), {
    ...options,
    label: `[image] ${options.script}`,
  });
}
