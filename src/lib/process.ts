import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

/** Starts argv as a child in its own process group, so it and all it spawns can be signalled together. */
export function spawnGroup(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const [command, ...args] = argv;
  if (!command) throw new Error("[process] empty argv");
  return spawn(command, args, { ...options, detached: true });
}

/** Signals a whole process group; ignores a group that is gone. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL after `graceMs`. Resolves when
 * the leader exited.
 */
export async function stopGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  killGroup(child.pid, "SIGTERM");
  const timer = setTimeout(() => killGroup(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
