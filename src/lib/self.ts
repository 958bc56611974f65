import { fileURLToPath } from "node:url";

/**
 * argv that runs strata's own CLI in a new process: node with the tsx loader
 * (Node 20 cannot strip types) and the CLI entry, both as absolute paths so it
 * works from any working directory.
 */
export function strataCommand(): string[] {
  return [
    process.execPath,
    "--import",
    import.meta.resolve("tsx"),
    fileURLToPath(new URL("../cli/main.ts", import.meta.url)),
  ];
}
