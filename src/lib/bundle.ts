import { rm } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { build } from "esbuild";

/**
 * Bundles a TypeScript entry into one ES module at `outfile` and returns the
 * argv that runs it. Built from the sources at each control-plane start, so it
 * is never stale; pure-JavaScript packages go in too, so the file runs from
 * anywhere and starts in a fraction of the time tsx needs.
 */
export interface Bundle {
  /** Runs the bundle. */
  argv: string[];
  /** Files bundled, relative to the working folder (esbuild's metafile). */
  inputs: string[];
}

export interface BundleOptions {
  /**
   * Puts what the entry reaches only through `import()` in chunks of its own,
   * in `<outfile name>-chunks/` beside it, so node parses and runs only the
   * first stage's modules before that stage goes on (the agent starts the app
   * before it loads the rest).
   * @default false: one file
   */
  splitting?: boolean;
}

export async function bundleEntry(
  entry: string,
  outfile: string,
  options: BundleOptions = {},
): Promise<Bundle> {
  const name = basename(outfile, extname(outfile));
  // Chunks are named by content: those of an earlier build would pile up.
  if (options.splitting)
    await rm(join(dirname(outfile), `${name}-chunks`), { recursive: true, force: true });
  const result = await build({
    entryPoints: [entry],
    ...(options.splitting
      ? {
          splitting: true,
          outdir: dirname(outfile),
          entryNames: name,
          chunkNames: `${name}-chunks/[name]-[hash]`,
          outExtension: { ".js": extname(outfile) },
        }
      : { outfile }),
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
