import { rm } from "node:fs/promises";
import { join } from "node:path";
import { layRelease, type LaidRelease } from "../cas/lay-release.js";
import type { Clock } from "../lib/clock.js";
import { switchCurrent } from "../lib/server-root.js";
import { saveCurrentApp } from "../runtime/current-app.js";
import { loadDefinition } from "../runtime/release-app.js";
import type { ReleaseLayer } from "./image-store.js";

/**
 * Applies a release layer to an image root being built, for every image
 * store that assembles roots on the control plane's disk: the verified
 * tarball is downloaded into `work` and installed (installReleaseLayer).
 * Returns the layer's one-line summary.
 */
export async function applyReleaseLayer(
  layer: ReleaseLayer,
  root: string,
  work: string,
  clock: Clock,
  signal: AbortSignal,
): Promise<string> {
  const tarball = join(work, "release.tar.gz");
  try {
    await layer.download(tarball, signal);
    signal.throwIfAborted();
    const installed = await installReleaseLayer({
      root,
      release: layer.release,
      tarball,
      activatedAt: clock.now(),
    });
    return installed.summary;
  } finally {
    await rm(tarball, { force: true });
  }
}

export interface InstallReleaseLayerOptions {
  /** The image root (the agent's server root on the image). */
  root: string;
  release: { id: string; version: string };
  /** The release's tarball, its checksum already verified against `release.id`. */
  tarball: string;
  /** Recorded as the release's activation time in `activations.json` (ms since the epoch). */
  activatedAt: number;
}

/**
 * Installs a release into an image root as the agent's everyday deploy
 * leaves it, the one implementation for every image store (the local one on
 * the control plane's disk, a Glance builder through `strata agent
 * lay-release`): laid into the root's file store with the release folder
 * materialised as links to the blobs (layRelease: a booted server's next
 * deploy fetches only what changed), then `current` and `activations.json`
 * written by the agent's own switch. Leaves no release folder behind when it
 * rejects (`current` then still names what it named).
 */
export async function installReleaseLayer(
  options: InstallReleaseLayerOptions,
): Promise<LaidRelease & { summary: string }> {
  const { root, release } = options;
  const laid = await layRelease({
    root,
    releaseId: release.id,
    tarball: options.tarball,
    files: "link",
  });
  await switchCurrent(root, release.id, {
    activated_at: options.activatedAt,
    version: release.version,
  });
  // For the early boot of servers from the image (runtime/early-boot.ts): starts without a parser.
  await loadDefinition(root, release.id)
    .then((definition) => saveCurrentApp(root, release.id, definition))
    .catch(() => undefined); // a strata.yaml that does not parse: the boot says why, as before
  const how = laid.stored ? ", in the file store" : " (no file manifest: not in the file store)";
  return { ...laid, summary: `${release.id}: ${laid.files} files, ${laid.bytes} bytes${how}` };
}
