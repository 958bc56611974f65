import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { bundleEntry } from "../../lib/bundle.js";

const ENTRY = fileURLToPath(new URL("../../agent/main.ts", import.meta.url));

/** Bundles the agent into `dir/strata-agent.mjs` and returns the argv that runs it. */
export function bundleAgent(dir: string): Promise<string[]> {
  return bundleEntry(ENTRY, join(dir, "strata-agent.mjs"));
}
