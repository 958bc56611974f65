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
 * tarball is downloaded into `work`, laid into the root's store with the
 * release materialised from it as links to the blobs (layRelease: a booted
 * server's next deploy fetches only what changed), and `current` and `activations.json` are
 * written by the agent's own switch, with the parsed strata.yaml the boot
 * starts from (current-app.json). Returns the layer's one-line summary.
 */
export async function applyReleaseLayer(
  layer: ReleaseLayer,
  root: string,
  work: string,
  clock: Clock,
  signal: AbortSignal,
): Promise<string> {
  const tarball = join(work, "release.tar.gz");
  let laid: LaidRelease;
  try {
    await layer.download(tarball, signal);
    signal.throwIfAborted();
    laid = await layRelease({ root, releaseId: layer.release.id, tarball, files: "link" });
  } finally {
    await rm(tarball, { force: true });
  }
  signal.throwIfAborted();
  await switchCurrent(root, layer.release.id, {
    activated_at: clock.now(),
    version: layer.release.version,
  });
  // For the early boot of servers from the image (runtime/early-boot.ts): starts without a parser.
  await saveCurrentApp(root, layer.release.id, await loadDefinition(root, layer.release.id)).catch(
    () => undefined, // no strata.yaml to parse: the boot says why, as before
  );
  const how = laid.stored ? ", in the file store" : " (no file manifest: not in the file store)";
  return `${layer.release.id}: ${laid.files} files, ${laid.bytes} bytes${how}`;
}
