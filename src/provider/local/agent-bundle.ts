import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const ENTRY = fileURLToPath(new URL("../../agent/bin.ts", import.meta.url));

/**
 * Bundles the agent into one ES module under `dir` and returns the argv that
 * runs it. Built from the sources at every control-plane start, so it is never
 * stale. Its packages (yaml, zod) are pure JavaScript and go in too, so
 * the file runs from anywhere. `inputs` lists the files bundled, relative to the
 * working folder (esbuild's metafile).
 */
export async function bundleAgent(dir: string): Promise<{ argv: string[]; inputs: string[] }> {
  const outfile = join(dir, "strata-agent.mjs");
  const result = await build({
    entryPoints: [ENTRY],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // ESM output that bundles CommonJS packages needs a require() of its own.
    banner: {
      js: 'import { createRequire } from "node:module"; const require = createRequire(import.meta.url);',
    },
    logLevel: "silent",
    metafile: true,
  });
  return { argv: [process.execPath, outfile], inputs: Object.keys(result.metafile.inputs) };
}
