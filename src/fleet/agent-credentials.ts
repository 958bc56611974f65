import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { failpoint } from "../lib/failpoint.js";

/**
 * What an agent keeps in `<root>/agent.json` (0600): its name, its token and
 * the release-signing key pinned at its first join. Agent-side: the agent's
 * bundle imports this module, so it imports nothing but node built-ins.
 */
export interface AgentCredentials {
  name: string;
  token: string;
  release_key?: string;
}

/** The saved credentials, or null when the agent has not joined yet (or the file is unreadable). */
export async function readCredentials(root: string): Promise<Partial<AgentCredentials> | null> {
  return readFile(join(root, "agent.json"), "utf8").then(
    (text) => JSON.parse(text) as Partial<AgentCredentials>,
    () => null,
  );
}

/** Replaces agent.json atomically (a temp file, flushed, renamed over it): a kill leaves the old or the new. */
export async function saveCredentials(root: string, saved: AgentCredentials): Promise<void> {
  const temp = join(root, ".agent.json.tmp");
  const file = await open(temp, "w", 0o600);
  try {
    await file.writeFile(JSON.stringify(saved) + "\n");
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(root, "agent.json"));
}

export interface RotationSteps {
  /** Asks the control plane for a new token over the authenticated channel. */
  issue(): Promise<string>;
  /** Persists the new token (saveCredentials). */
  save(token: string): Promise<void>;
  /** Sends every request from now on with the new token. */
  use(token: string): void;
}

/**
 * Rotates the agent's token. The order is the guarantee: the new token is
 * saved before it is used once, and the control plane keeps the old one valid
 * until that first use, so an agent killed at any step restarts with a token
 * that works (the old one before the save, the new one after). `root` holds
 * the kill tests' failpoint markers.
 */
export async function rotateAgentToken(steps: RotationSteps, root: string): Promise<void> {
  const token = await steps.issue();
  failpoint("token.issued", root);
  await steps.save(token);
  failpoint("token.saved", root);
  steps.use(token);
}
