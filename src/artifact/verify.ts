import { parseAppDefinition, type AppDefinition } from "../config/app-definition.js";
import { StrataError, messageOf } from "../lib/errors.js";
import { verifyArchive, type ArchiveVisitor, type ExtractOptions } from "./extract.js";
import type { ArtifactStore } from "./store.js";

/**
 * Checks a stored artifact before a release may name it: gzip and tar
 * well-formed, every entry as safe as extraction demands, a valid app
 * strata.yaml at the top. On any problem the artifact is deleted (its id is
 * its content, so no valid release can share it) and StrataError
 * ("unsafe_archive", "[artifact] verify: <entry>: <reason>") is thrown: the
 * message names the entry or the definition key, never a file of ours.
 */
export async function verifyStoredRelease(
  artifacts: ArtifactStore,
  id: string,
  options: ExtractOptions = {},
  visitor?: ArchiveVisitor,
): Promise<{ files: number; bytes: number; definition: AppDefinition }> {
  const found = await artifacts.open(id);
  if (!found) throw new StrataError("not_found", `[artifact] verify: ${id} is not in the store`);
  try {
    const result = await verifyArchive(found.stream, "the archive", options, visitor);
    if (result.definition === null) {
      throw new StrataError(
        "unsafe_archive",
        "[artifact] verify: strata.yaml: missing at the top of the archive",
      );
    }
    return { ...result, definition: parseAppDefinition(result.definition, "strata.yaml") };
  } catch (err) {
    found.stream.destroy();
    await artifacts.delete(id);
    const message = err instanceof StrataError ? err.message : messageOf(err);
    const prefixed = message.startsWith("[artifact]") ? message : `[artifact] verify: ${message}`;
    throw new StrataError("unsafe_archive", prefixed, { cause: err });
  }
}
