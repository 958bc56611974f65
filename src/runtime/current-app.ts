import { createHash } from "node:crypto";
import { access, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AppDefinition } from "../config/app-definition.js";
import { readActivations, releaseDir } from "../lib/server-root.js";
import type { AppSpec } from "./supervisor.js";

// What the agent's early boot reads to start `current`: this module imports no parser (yaml,
// zod), so the early boot does not load one (runtime/early-boot.ts).

/** Kept in the server root while the app is stopped, so a restarted agent does not start it at boot. */
export const STOPPED_MARKER = "app-stopped";

/** Whether the app was stopped and must stay so (checked at boot, before the control plane answers). */
export function isAppStopped(root: string): Promise<boolean> {
  return access(join(root, STOPPED_MARKER)).then(
    () => true,
    () => false,
  );
}

/** In the server root: the parsed strata.yaml of the release `current` held when it was written. */
export const CURRENT_APP_FILE = "current-app.json";

interface CurrentApp {
  release_id: string;
  /** sha256 of the release's strata.yaml as it was parsed. */
  strata_yaml_sha256: string;
  definition: AppDefinition;
}

/**
 * Keeps `definition` (parsed from the release's strata.yaml) in the root, for
 * the early boot of a server whose `current` is `releaseId`: a bake writes it
 * into the image's root. Replaced atomically; the one file of the root names
 * one release.
 */
export async function saveCurrentApp(
  root: string,
  releaseId: string,
  definition: AppDefinition,
): Promise<void> {
  const saved: CurrentApp = {
    release_id: releaseId,
    strata_yaml_sha256: await strataYamlSha256(root, releaseId),
    definition,
  };
  const temp = join(root, `.${CURRENT_APP_FILE}.tmp`);
  await writeFile(temp, JSON.stringify(saved) + "\n");
  await rename(temp, join(root, CURRENT_APP_FILE));
}

/**
 * The saved app of `releaseId`, as `loadAppSpec` would make it; null when none
 * is saved for that release or its strata.yaml no longer hashes the same (then
 * parse it).
 */
export async function readCurrentApp(
  root: string,
  releaseId: string,
  host: string,
): Promise<AppSpec | null> {
  try {
    const saved = JSON.parse(await readFile(join(root, CURRENT_APP_FILE), "utf8")) as CurrentApp;
    if (saved.release_id !== releaseId) return null;
    if (saved.strata_yaml_sha256 !== (await strataYamlSha256(root, releaseId))) return null;
    const version = (await readActivations(root))[releaseId]?.version ?? "unknown";
    return {
      releaseId,
      version,
      dir: releaseDir(root, releaseId),
      definition: saved.definition,
      host,
    };
  } catch {
    return null;
  }
}

async function strataYamlSha256(root: string, releaseId: string): Promise<string> {
  const text = await readFile(join(releaseDir(root, releaseId), "strata.yaml"));
  return createHash("sha256").update(text).digest("hex");
}
