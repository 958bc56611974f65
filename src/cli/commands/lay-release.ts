import type { Command } from "commander";
import { resolve } from "node:path";
import { digestFile, isReleaseId } from "../../artifact/digest.js";
import { StrataError } from "../../lib/errors.js";
import { agentSubcommand } from "./agent.js";
import { installReleaseLayer } from "../../image/release-layer.js";
import { printJson, type OutputOptions } from "../output.js";

interface LayReleaseFlags extends OutputOptions {
  root: string;
  release: string;
  version: string;
  tarball: string;
}

/**
 * `strata agent lay-release --root R --release ID --version V --tarball F`:
 * registered under `strata agent`, run by a Glance bake's builder on the
 * image (the fleet's agent command), so an image's release layer is laid
 * into the root's file store exactly as the local image store lays it.
 */
export function registerLayReleaseCommand(program: Command): void {
  agentSubcommand(program, "lay-release")
    .description(
      "lay a release tarball into a server root as an image's app layer: its files in the root's file store, the release folder linked to them, current switched to it (what a Glance bake's builder runs)",
    )
    .requiredOption("--root <dir>", "server root on the image")
    .requiredOption("--release <id>", "release id (sha256:<hex>); the tarball must hash to it")
    .requiredOption("--version <version>", "the release's version, recorded in activations.json")
    .requiredOption("--tarball <file>", "the release's tarball")
    .option("--json", "print one JSON document")
    .action(async (flags: LayReleaseFlags) => {
      if (!isReleaseId(flags.release))
        throw new StrataError(
          "bad_request",
          `[agent] lay-release: --release: expected sha256:<64 hex>, got "${flags.release}"`,
        );
      const tarball = resolve(flags.tarball);
      const got = await digestFile(tarball).catch((err: unknown) => {
        throw new StrataError("bad_request", `[agent] lay-release: --tarball: ${String(err)}`, {
          cause: err,
        });
      });
      // The one check before anything is unpacked, also when the caller checked already.
      if (got !== flags.release)
        throw new StrataError(
          "checksum_mismatch",
          `[agent] lay-release: checksum mismatch for release ${flags.release} (got ${got})`,
        );
      const laid = await installReleaseLayer({
        root: resolve(flags.root),
        release: { id: flags.release, version: flags.version },
        tarball,
        activatedAt: Date.now(),
      });
      if (flags.json)
        return printJson({
          release: flags.release,
          files: laid.files,
          bytes: laid.bytes,
          stored: laid.stored,
        });
      console.log(laid.summary);
    });
}
