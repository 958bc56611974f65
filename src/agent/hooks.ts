import { spawn } from "node:child_process";
import type { Clock } from "../lib/clock.js";

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

export interface HookResult {
  /** null when the hook was killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr in arrival order, bounded. Env values are never added to it. */
  output: string;
  durationMs: number;
}

/** The argv of a hook: a command string run by the shell. */
export function hookArgv(command: string): string[] {
  return ["/bin/sh", "-c", command];
}

/** The agent's env for children: its own STRATA_* variables (join token...) stay private. */
export function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("STRATA_")) env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs one hook in its own process group and resolves when it and everything
 * it started are gone: on timeout or abort the group gets SIGTERM, then
 * SIGKILL; leftovers of a hook that exited are killed too. Never rejects for a
 * failing hook (see `exitCode`); callers decide. May run concurrently.
 */
export function runHook(options: RunHookOptions): Promise<HookResult> {
  const started = options.clock.now();
  const output = new BoundedOutput(options.maxOutputBytes ?? 65536);
  const [file, ...args] = hookArgv(options.command);
  const child = spawn(file!, args, {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  child.stdout.on("data", (chunk: Buffer) => output.append(chunk));
  child.stderr.on("data", (chunk: Buffer) => output.append(chunk));

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = () => {
    killGroup(child.pid, "SIGTERM");
    killTimer ??= setTimeout(() => killGroup(child.pid, "SIGKILL"), options.killGraceMs ?? 2000);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    terminate();
  }, options.timeoutMs);
  if (options.signal?.aborted) terminate();
  options.signal?.addEventListener("abort", terminate, { once: true });

  return new Promise((resolve) => {
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    child.on("error", (err) => {
      output.append(Buffer.from(`[agent] cannot run hook: ${err.message}\n`));
      exit = { code: null, signal: null };
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      killGroup(child.pid, "SIGKILL");
    });
    child.on("close", () => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener("abort", terminate);
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        output: output.toString(),
        durationMs: options.clock.now() - started,
      });
    });
  });
}

/** Signals a whole process group; one that is already gone is fine. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** Keeps the first and the last `max / 2` bytes of a stream and counts what it drops. */
export class BoundedOutput {
  readonly #half: number;
  #head = Buffer.alloc(0);
  #tail = Buffer.alloc(0);
  #tailSeen = 0;

  constructor(max: number) {
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  append(chunk: Buffer): void {
    const room = this.#half - this.#head.length;
    if (room > 0) this.#head = Buffer.concat([this.#head, chunk.subarray(0, room)]);
    const rest = chunk.subarray(Math.max(room, 0));
    this.#tailSeen += rest.length;
    this.#tail = Buffer.concat([this.#tail, rest]).subarray(-this.#half);
  }

  toString(): string {
    const dropped = this.#tailSeen - this.#tail.length;
    const gap = dropped > 0 ? `\n[... ${dropped} bytes omitted ...]\n` : "";
    return this.#head.toString("utf8") + gap + this.#tail.toString("utf8");
  }
}
