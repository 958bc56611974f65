import { appendFileSync } from "node:fs";
import { join } from "node:path";

/** Where boot milestones go when `STRATA_BOOT_TRACE=1` (the service-in bench reads them). */
export const BOOT_TRACE_FILE = "boot-trace.log";

/** Records one boot milestone at the current time; a no-op unless tracing is on. */
export type BootTrace = (event: string) => void;

/**
 * A boot's milestones as `<event> <epoch ms>` lines appended to
 * `<root>/boot-trace.log`, when `env.STRATA_BOOT_TRACE` is `1`: the process
 * start (from `performance.timeOrigin`) is the first line. Off otherwise, and
 * never fails the boot (a root that is gone is ignored).
 */
export function createBootTrace(root: string, env: NodeJS.ProcessEnv = process.env): BootTrace {
  if (env.STRATA_BOOT_TRACE !== "1") return () => {};
  traceAt(root, "process_start", performance.timeOrigin);
  return (event) => traceAt(root, event, Date.now());
}

/** One milestone of a boot another process runs (the server's launcher), when `env` turns tracing on. */
export function traceBootEvent(root: string, env: NodeJS.ProcessEnv, event: string): void {
  if (env.STRATA_BOOT_TRACE === "1") traceAt(root, event, Date.now());
}

function traceAt(root: string, event: string, at: number): void {
  try {
    appendFileSync(join(root, BOOT_TRACE_FILE), `${event} ${Math.round(at)}\n`);
  } catch {
    // the root is gone: nothing to keep
  }
}
