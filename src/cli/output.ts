import { StrataError } from "../lib/errors.js";
import { EXIT, exitCodeOf } from "./exit-codes.js";

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

/** Exit code and message for an error reaching the CLI's single handler (codes: exit-codes.ts). */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof StrataError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(err.stack + "\n");
    return exitCodeOf(err.code);
  }
  const e = err as { code?: string; message?: string; exitCode?: number };
  // commander has printed its message already; help and version exit 0, every other one is usage.
  if (e?.code?.startsWith?.("commander.")) return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  process.stderr.write(`error: ${e?.message ?? String(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + "\n");
  return EXIT.FAILED;
}

/** Where a confirmation is asked; tests pass their own streams. */
export interface ConfirmIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Asks before something destructive: `--yes` skips the question; without a
 * terminal to ask on, it refuses (exit 2) rather than guess. Returns false when
 * the user declines; the caller then stops with exit 1.
 */
export async function confirm(
  question: string,
  options: { yes?: boolean; io?: ConfirmIo },
): Promise<boolean> {
  if (options.yes) return true;
  const io = options.io ?? { input: process.stdin, output: process.stderr };
  if (!io.input.isTTY || !io.output.isTTY) {
    throw new StrataError(
      "bad_request",
      `[cli] ${question} No terminal to confirm on: pass --yes to go ahead.`,
    );
  }
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: io.input, output: io.output });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (/^y(es)?$/i.test(answer.trim())) return true;
    io.output.write("aborted\n");
    process.exitCode = EXIT.FAILED;
    return false;
  } finally {
    rl.close();
  }
}
