import type { Clock } from "../lib/clock.js";
import { runInGroup, type RunResult } from "../lib/process.js";

export interface RunHookOptions {
  /** Run by `/bin/sh -c`. */
  command: string;
  /** The release folder; the working directory of the hook. */
  cwd: string;
  /** The app's env and the STRATA_* variables; added to the agent's own env minus its STRATA_* secrets. */
  env: Record<string, string>;
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL of the hook's process group. @default 2000 */
  killGraceMs?: number;
  /** Output kept: half from the start, half from the end. @default 65536 */
  maxOutputBytes?: number;
}

export type HookResult = RunResult;

/** The argv of a hook: a command string run by the shell. */
export function hookArgv(command: string): string[] {
  return ["/bin/sh", "-c", command];
}

/** Runs one hook in its own process group, with its timeout; never rejects for a failing hook. */
export function runHook(options: RunHookOptions): Promise<HookResult> {
  return runInGroup(hookArgv(options.command), { ...options, label: "[agent] hook" });
}
