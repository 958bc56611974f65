import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import type { RunAs } from "./app-user.js";
import type { Clock } from "./clock.js";
import { readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { getPriority, setPriority } from "node:os";

/** Starts argv as a child in its own process group, so it and all it spawns can be signalled together. */
export function spawnGroup(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const [command, ...args] = argv;
  if (!command) throw new Error("[process] empty argv");
  return atNormalPriority(spawn(command, args, { ...options, detached: true }));
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

/**
 * The environment for children: this process's STRATA_* variables (join
 * token...) stay private. `base`: the environment to start from, when it is
 * not this process's (a launcher starting what its agent would).
 */
export function childEnv(
  extra: Record<string, string>,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) {
    if (value !== undefined && !key.startsWith("STRATA_")) env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunInGroupOptions {
  /** Names the program in the output when it cannot start (`[agent] hook before_switch`). */
  label: string;
  cwd: string;
  /** Added to this process's environment minus its STRATA_* secrets. */
  env: Record<string, string>;
  timeoutMs: number;
  clock: Clock;
  signal?: AbortSignal;
  /** Between SIGTERM and SIGKILL of the process group. @default 2000 */
  killGraceMs?: number;
  /** Output kept: half from the start, half from the end. @default 65536 */
  maxOutputBytes?: number;
  /** Runs the program as this account (the agent, as root, runs hooks as the app user). */
  runAs?: RunAs;
}

export interface RunResult {
  /** null when killed by a signal or not started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** stdout and stderr in arrival order, bounded. Env values are never added to it. */
  output: string;
  durationMs: number;
}

/**
 * Runs argv in its own process group and resolves when it and everything it
 * started are gone: on timeout or abort the group gets SIGTERM, then SIGKILL;
 * leftovers of a program that exited are killed too. Never rejects for a
 * failing program (see `exitCode`); callers decide. May run concurrently.
 */
export function runInGroup(argv: string[], options: RunInGroupOptions): Promise<RunResult> {
  const started = options.clock.now();
  const output = new BoundedOutput(options.maxOutputBytes ?? 65536);
  const [file, ...args] = argv;
  const child = atNormalPriority(
    spawn(file!, args, {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    }),
  );
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
      output.append(Buffer.from(`${options.label}: cannot run: ${err.message}\n`));
      exit = { code: null, signal: null };
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      // Whatever it left running in the background goes too.
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

/**
 * Stops a process group left running by a process that died without stopping
 * it (an agent's app: its process group id is in `pidFile`). Only a process whose working directory is
 * inside `root` is touched, so a recycled pid is left alone. Idempotent.
 */
export async function stopOrphan(
  pidFile: string,
  root: string,
  graceMs = 10_000,
): Promise<boolean> {
  const pgid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pgid) || pgid <= 1 || !groupAlive(pgid)) return false;
  let cwd: string;
  try {
    cwd = realpathSync(`/proc/${pgid}/cwd`);
  } catch {
    return false;
  }
  const inside = realpathSync(root);
  if (cwd !== inside && !cwd.startsWith(inside + "/")) return false;
  killGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) killGroup(pgid, "SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}

/** Whether `pid` is a live process (a zombie waiting to be reaped is not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0] !== "Z";
  } catch {
    return false; // gone between the two looks
  }
}

/** Whether the group still has a live member; zombies left for a slow init to reap do not count. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  try {
    return readdirSync("/proc").some((entry) => {
      if (!/^\d+$/.test(entry)) return false;
      try {
        // fields after "(comm) ": state ppid pgrp
        const [state, , pgrp] = readFileSync(`/proc/${entry}/stat`, "utf8")
          .split(") ")[1]!
          .split(" ");
        return Number(pgrp) === pgid && state !== "Z";
      } catch {
        return false;
      }
    });
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** Calls `onGone` once the parent process is gone (the local provider's control plane); returns the unwatch. */
export function watchParent(onGone: () => void, log: (line: string) => void): () => void {
  const ppid = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === ppid) return;
    log("[agent] parent process is gone: shutting down");
    clearInterval(timer);
    onGone();
  }, 1000);
  return () => clearInterval(timer);
}

/** How much lower background work runs than the thread's own priority (atLowPriority); nice is at most 19. */
export const BACKGROUND_NICE = 10;

/**
 * Runs `work` with this thread's CPU priority BACKGROUND_NICE lower than it
 * was (an agent started under `nice` goes lower still), then puts it back: for housekeeping that should yield to the app (and, on
 * a shared host, to other work). Only where the priority can be raised back
 * (root); otherwise `work` runs as it is. On Linux the priority is the
 * calling thread's, so the event loop's other callbacks during `work` run at
 * it too, not the thread pool's; a child spawned meanwhile is put back at
 * once (atNormalPriority).
 */
export async function atLowPriority<T>(work: () => Promise<T>): Promise<T> {
  if (normalNice !== null || process.getuid?.() !== 0) return work();
  const before = getPriority(0);
  if (before >= 19) return work();
  setPriority(0, Math.min(19, before + BACKGROUND_NICE));
  normalNice = before;
  try {
    return await work();
  } finally {
    normalNice = null;
    setPriority(0, before);
  }
}

/** This thread's priority outside atLowPriority's work; null when none runs. */
let normalNice: number | null = null;

/**
 * A child inherits the priority of the thread that spawned it: one spawned
 * while background work runs (an app restarted, a hook) is put back at the
 * normal priority at once. Every spawn of the agent's goes through this.
 */
export function atNormalPriority<T extends ChildProcess>(child: T): T {
  if (normalNice !== null && child.pid) {
    try {
      setPriority(child.pid, normalNice);
    } catch {
      // gone already
    }
  }
  return child;
}
