import { createCipheriv, createHash } from "node:crypto";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EXAMPLE_APP } from "../../test/e2e/harness.js";

/** Every generated tree starts from the example app, so the release starts and passes its health check. */
export { EXAMPLE_APP };

export interface AppTreeOptions {
  /** Generated files, besides the example app's own. @default 10000 */
  files?: number;
  /** Their total size in bytes. @default 53 MiB (a ~50 MB tarball with the default share) */
  bytes?: number;
  /** Share of `bytes` in incompressible files (like images); the rest is source-like text. @default 0.85 */
  incompressibleShare?: number;
  /** Same seed, same bytes. @default "strata-bench" */
  seed?: string;
}

export interface AppTree {
  files: number;
  bytes: number;
}

const WORDS = (
  "const let function return if else for while import export from async await new this " +
  "class extends null undefined true false value result error options config request " +
  "response server client handler router module require"
).split(" ");

/**
 * Copies examples/hello into `dir` (created) and adds a deterministic tree:
 * one file in ten is incompressible, the rest text that compresses like source
 * code. Not idempotent: `dir` must not hold a previous tree.
 */
export async function generateAppTree(dir: string, options: AppTreeOptions = {}): Promise<AppTree> {
  const fileCount = options.files ?? 10_000;
  const totalBytes = options.bytes ?? 53 * 1024 * 1024;
  const share = options.incompressibleShare ?? 0.85;
  const stream = keystream(options.seed ?? "strata-bench");
  await cp(EXAMPLE_APP, dir, { recursive: true });

  const binaryCount = Math.max(1, Math.round(fileCount / 10));
  const textCount = fileCount - binaryCount;
  const binaryMean = (totalBytes * share) / binaryCount;
  const textMean = (totalBytes * (1 - share)) / Math.max(1, textCount);
  const folders = Math.max(1, Math.round(fileCount / 100));
  for (let f = 0; f < folders; f++) {
    await mkdir(join(dir, "assets", `d${f % 10}`, `m${f}`), { recursive: true });
  }

  let bytes = 0;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < fileCount; i++) {
    const binary = i % 10 === 0;
    const jitter = 0.25 + 1.5 * (stream(4).readUInt32LE(0) / 2 ** 32);
    const size = Math.max(16, Math.round((binary ? binaryMean : textMean) * jitter));
    const data = binary ? stream(size) : text(stream, size);
    const folder = i % folders;
    const path = join(
      dir,
      "assets",
      `d${folder % 10}`,
      `m${folder}`,
      `f${i}${binary ? ".bin" : ".js"}`,
    );
    bytes += data.length;
    pending.push(writeFile(path, data));
    if (pending.length >= 64) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return { files: fileCount, bytes };
}

/** AES-128-CTR over zeros: fast, deterministic pseudo-random bytes. */
function keystream(seed: string): (n: number) => Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32));
  return (n) => cipher.update(Buffer.alloc(n));
}

function text(stream: (n: number) => Buffer, size: number): Buffer {
  const choices = stream(Math.ceil(size / 3));
  let out = "";
  for (let i = 0; out.length < size; i++) {
    const byte = choices[i % choices.length] as number;
    out += (byte & 7) === 0 ? ";\n" : `${WORDS[byte % WORDS.length]} `;
  }
  return Buffer.from(out.slice(0, size));
}
