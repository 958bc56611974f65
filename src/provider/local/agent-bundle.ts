import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { bundleEntry, type Bundle } from "../../lib/bundle.js";

const ENTRY = fileURLToPath(new URL("../../agent/bin.ts", import.meta.url));

/**
 * Bundles the agent into `dir/strata-agent.mjs` and returns the argv that runs
 * it and the files bundled (its packages, yaml and zod, go in too). The early
 * boot (runtime/early-boot.ts) is the file itself; the rest is in chunks it
 * imports once the app is started.
 */
export function bundleAgent(dir: string): Promise<Bundle> {
  return bundleEntry(ENTRY, join(dir, "strata-agent.mjs"), { splitting: true });
}
