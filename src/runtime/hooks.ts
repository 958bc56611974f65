import { runInGroup, type RunInGroupOptions, type RunResult } from "../lib/process.js";

export interface RunHookOptions extends Omit<RunInGroupOptions, "label"> {
  /** Run by `/bin/sh -c` in `cwd`, the release folder, with the app's env and the STRATA_* variables. */
  command: string;
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
