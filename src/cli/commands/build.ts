import type { Command } from "commander";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { packDirectory } from "../../artifact/pack.js";
import { parseAppDefinition } from "../../config/app-definition.js";
import { ConfigError, StrataError } from "../../lib/errors.js";
import type { Release } from "../../wire/release.js";
import type { ApiClient } from "../client.js";
import { createClient } from "../client.js";
import { printJson, progress, type OutputOptions } from "../output.js";

export function registerBuildCommand(program: Command): void {
  program
    .command("build")
    .description("pack DIR into a release of APP@VERSION and upload it")
    .argument("<dir>", "app folder (honours .strataignore)")
    .requiredOption("--app <app>", "app name")
    .requiredOption("--version <version>", "release version")
    .option("--json", "print the release as one JSON document")
    .action(async (dir: string, opts: { app: string; version: string } & OutputOptions) => {
      const client = await createClient(program.opts());
      const release = await buildRelease(client, dir, opts.app, opts.version, (line) => {
        if (!opts.json) progress(line);
      });
      if (opts.json) return printJson(release);
      console.log(
        `${release.app}@${release.version} ${release.id} (${formatBytes(release.size)}, ${release.file_count} files)`,
      );
    });
}

/** Packs, hashes and uploads one release; the temp tarball is removed either way. */
export async function buildRelease(
  client: ApiClient,
  dir: string,
  app: string,
  version: string,
  onProgress: (line: string) => void = () => {},
): Promise<Release> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory())
    throw new StrataError("bad_request", `[cli] build: ${dir} is not a folder`);
  await checkAppDefinition(dir);
  const work = await mkdtemp(join(tmpdir(), "strata-build-"));
  try {
    const started = Date.now();
    let lastShown = 0;
    const packed = await packDirectory(dir, join(work, "release.tar.gz"), {
      onProgress: (done, total) => {
        if (Date.now() - lastShown > 500 || done === total) {
          lastShown = Date.now();
          onProgress(`packing ${done}/${total} files`);
        }
      },
    });
    onProgress(
      `packed ${packed.fileCount} files, ${formatBytes(packed.size)} in ${Date.now() - started} ms: ${packed.id}`,
    );
    const query = `app=${encodeURIComponent(app)}&version=${encodeURIComponent(version)}`;
    const res = await client.raw("POST", `/v1/releases?${query}`, {
      body: Readable.toWeb(createReadStream(packed.file)) as ReadableStream,
      headers: {
        "content-type": "application/gzip",
        "content-length": String(packed.size),
        "x-strata-release-id": packed.id,
        "x-strata-file-count": String(packed.fileCount),
      },
      duplex: "half",
    });
    onProgress(`uploaded ${app}@${version}`);
    return (await res.json()) as Release;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The app's strata.yaml must be valid before anything is packed or uploaded:
 * an upload uses up the version, and the agent would only refuse it at deploy.
 */
export async function checkAppDefinition(dir: string): Promise<void> {
  const path = join(dir, "strata.yaml");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new ConfigError(
      "strata.yaml",
      `[cli] build: ${path} is missing: an app folder needs one (start, port, health; docs/app-definition.md)`,
    );
  }
  parseAppDefinition(text, path);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
