import { StrataError } from "../lib/errors.js";

/** Options every reporting command shares. */
export interface OutputOptions {
  json?: boolean;
}

/** Prints one JSON document on stdout (the `--json` contract). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

/** Progress goes to stderr so stdout stays clean for `--json` and pipes. */
export function progress(line: string): void {
  process.stderr.write(line + "\n");
}

/** Renders rows as aligned columns. */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c == null ? "-" : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Exit code and message for an error reaching the CLI's single handler. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof StrataError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(err.stack + "\n");
    return err.code === "invalid_config" || err.code === "bad_request" ? 2 : 1;
  }
  const e = err as { code?: string; message?: string; exitCode?: number };
  if (e?.code?.startsWith?.("commander.")) return e.exitCode ?? 2;
  process.stderr.write(`error: ${e?.message ?? String(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  return 1;
}
