import { randomBytes } from "node:crypto";
import {
  open,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "./errors.js";
import { isReleaseId } from "../artifact/digest.js";
import type { DesiredRelease } from "../wire/agent.js";
import { failpoint } from "./failpoint.js";

// Layout of a server root:
//   releases/sha256-<hex>/   one unpacked release each
//   current -> releases/...  the running release (relative, so the root can move)
//   activations.json         release id -> when it became current, and its version
//   switching.json           a switch under way (SwitchIntent), until the release is live or rolled back
//   agent.json               name + per-agent token (0600)
//   tmp/                     downloads in progress
//   app.log                  the app's output (rotated: app.log.1 ..., runtime/log-rotation.ts)
//   logs/agent.log           the agent's own log, JSON lines (rotated; `strata logs --agent`)
//   shared/                  files and folders kept across releases (an app's `shared:`), linked into each

/** Filesystem-safe folder name of a release id: `sha256:<hex>` -> `sha256-<hex>`. */
export function releaseDirName(releaseId: string): string {
  if (!isReleaseId(releaseId)) {
    throw new StrataError("bad_request", `[agent] not a release id: ${JSON.stringify(releaseId)}`);
  }
  return releaseId.replace(":", "-");
}

export function releaseDir(root: string, releaseId: string): string {
  return join(root, "releases", releaseDirName(releaseId));
}

/** Where an app's `shared:` entries live, across releases. */
export function sharedDir(root: string): string {
  return join(root, "shared");
}

export interface Activation {
  activated_at: number;
  version: string;
}

/**
 * Points `current` at the release atomically (a temp symlink renamed over it,
 * so a reader sees the old or the new target, never none) and records the
 * activation. Idempotent; callers serialize switches of one root.
 */
export async function switchCurrent(
  root: string,
  releaseId: string,
  activation: Activation,
): Promise<void> {
  const temp = join(root, `.current-${randomBytes(4).toString("hex")}`);
  await symlink(join("releases", releaseDirName(releaseId)), temp);
  try {
    await rename(temp, join(root, "current"));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  failpoint("switch.renamed", root);
  const activations = await readActivations(root);
  activations[releaseId] = activation;
  await writeActivations(root, activations);
}

/** Makes a release count as never activated (it was rolled back), so pruning takes it first. */
export async function forgetActivation(root: string, releaseId: string): Promise<void> {
  const activations = await readActivations(root);
  delete activations[releaseId];
  await writeActivations(root, activations);
}

/** Removes `current` (after a failed first deploy: nothing runs). Idempotent. */
export async function clearCurrent(root: string): Promise<void> {
  await rm(join(root, "current"), { force: true });
}

/** The release `current` points at, or null when there is none. */
export async function readCurrent(root: string): Promise<string | null> {
  let target: string;
  try {
    target = await readlink(join(root, "current"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const id = (target.split("/").pop() ?? "").replace("-", ":");
  return isReleaseId(id) ? id : null;
}

export async function readActivations(root: string): Promise<Record<string, Activation>> {
  try {
    return JSON.parse(await readFile(join(root, "activations.json"), "utf8")) as Record<
      string,
      Activation
    >;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
}

async function writeActivations(root: string, activations: Record<string, Activation>) {
  const temp = join(root, `.activations-${randomBytes(4).toString("hex")}`);
  await writeFile(temp, JSON.stringify(activations, null, 2) + "\n");
  await rename(temp, join(root, "activations.json"));
}

/**
 * Deletes all but the `keep` most recently activated releases and those in
 * `protect` (current, previous, the one just tried); releases that never
 * became current, or were rolled back, count as oldest. Also clears leftovers of interrupted extractions (hidden entries), so it
 * must not run while a reconcile of the same root is extracting.
 * Returns the removed release ids.
 */
export async function pruneReleases(
  root: string,
  keep: number,
  protect: ReadonlyArray<string | null>,
): Promise<string[]> {
  const dir = join(root, "releases");
  const activations = await readActivations(root);
  const ids: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.startsWith(".")) await rm(join(dir, name), { recursive: true, force: true });
    const id = name.replace("-", ":");
    if (isReleaseId(id)) ids.push(id);
  }
  const byRecency = ids.sort(
    (a, b) => (activations[b]?.activated_at ?? 0) - (activations[a]?.activated_at ?? 0),
  );
  const removed: string[] = [];
  for (const id of byRecency.slice(keep)) {
    if (protect.includes(id)) continue;
    await rm(releaseDir(root, id), { recursive: true, force: true });
    delete activations[id];
    removed.push(id);
  }
  if (removed.length > 0) await writeActivations(root, activations);
  return removed;
}

/**
 * A switch under way, written durably before `current` moves and removed once
 * the release is live (or rolled back): an agent killed in between finds it at
 * start and completes the switch with the release's own version and hooks.
 */
export interface SwitchIntent {
  generation: number;
  release: DesiredRelease;
  /** What ran before the switch (null: nothing). */
  previous: string | null;
  /** Hooks that ran to completion since the switch began, so a resumed switch runs each once. */
  done: string[];
}

const INTENT_FILE = "switching.json";

/** Writes the intent and syncs file and folder, so it survives a crash that follows. */
export async function writeSwitchIntent(root: string, intent: SwitchIntent): Promise<void> {
  const temp = join(root, `.switching-${randomBytes(4).toString("hex")}`);
  const file = await open(temp, "w", 0o600);
  try {
    await file.writeFile(JSON.stringify(intent) + "\n");
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(root, INTENT_FILE));
  const dir = await open(root, "r");
  await dir.sync().finally(() => dir.close());
}

export async function readSwitchIntent(root: string): Promise<SwitchIntent | null> {
  try {
    return JSON.parse(await readFile(join(root, INTENT_FILE), "utf8")) as SwitchIntent;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** The switch is complete (or undone). Idempotent. */
export async function clearSwitchIntent(root: string): Promise<void> {
  await rm(join(root, INTENT_FILE), { force: true });
}
