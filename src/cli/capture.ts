import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runCli } from "./program.js";

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliInvocation {
  args: string[];
  env?: Record<string, string>;
}

/**
 * Runs `strata ...args` in this process and captures stdout and stderr
 * (commands write through process.stdout/stderr and console). Only for a
 * process whose own stdout nobody reads meanwhile: see runCliBatch.
 */
export async function runCaptured(invocation: CliInvocation): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  const env = invocation.env ?? {};
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const capture =
    (into: string[]) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const done = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      done?.();
      return true;
    };
  process.stdout.write = capture(out) as typeof process.stdout.write;
  process.stderr.write = capture(err) as typeof process.stderr.write;
  Object.assign(process.env, env);
  try {
    const code = await runCli(["node", "strata", ...invocation.args]);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/**
 * Runs each invocation, in order, in one child process (one tsx start for the
 * lot, and the test runner's own stdout stays untouched); for tests.
 */
export async function runCliBatch(
  invocations: CliInvocation[],
  options: { cwd?: string } = {},
): Promise<CliRun[]> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--import", "tsx", fileURLToPath(import.meta.url), JSON.stringify(invocations)],
    { maxBuffer: 64 * 1024 * 1024, ...(options.cwd ? { cwd: options.cwd } : {}) },
  );
  return JSON.parse(stdout) as CliRun[];
}

/** One run, in a child process. */
export async function runCliChild(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  return (await runCliBatch([{ args, env }]))[0]!;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs: CliRun[] = [];
  for (const invocation of JSON.parse(process.argv[2]!) as CliInvocation[])
    runs.push(await runCaptured(invocation));
  process.stdout.write(JSON.stringify(runs));
}
