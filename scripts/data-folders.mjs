// Data folders of a local control plane (`strata server`, `npm run demo`) inside a checkout.
// They hold generated files (the agent bundle, servers' releases) that lint must not read.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Names every control plane writes into its data folder. */
const MARKERS = ["admin-token", "join-token"];

/** Folders directly under `root` that are a control plane's data folder, as eslint ignore globs. */
export function dataFolderIgnores(root) {
  const found = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name === "node_modules") continue;
    if (MARKERS.every((m) => existsSync(join(root, entry.name, m)))) found.push(`${entry.name}/`);
  }
  return found;
}
