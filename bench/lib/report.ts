import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, platform, release, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Where every benchmark writes its results. */
export const BENCHMARKS_DIR = fileURLToPath(new URL("../../docs/benchmarks/", import.meta.url));

/** The machine a figure was measured on; the README cites it beside the figure. */
export interface MachineInfo {
  cpus: number;
  model: string;
  memory_gib: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: the machine is shared. */
  load_1m: number;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model.trim() ?? "unknown",
    memory_gib: +(totalmem() / 1024 ** 3).toFixed(1),
    node: process.version,
    platform: `${platform()} ${release()}`,
    load_1m: +(loadavg()[0] ?? 0).toFixed(2),
  };
}

/** `p` in [0, 1], nearest-rank on a sorted copy; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const mean = values.reduce((a, b) => a + b, 0) / (values.length || 1);
  return {
    count: values.length,
    min: percentile(values, 0),
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    p99: percentile(values, 0.99),
    max: percentile(values, 1),
    mean,
  };
}

/** Rounds to `digits` decimals, for figures in JSON and tables. */
export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Seconds since `start` (from `process.hrtime.bigint()`). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export interface BenchReport {
  /** File stem under docs/benchmarks/: `<name>.json` and `<name>.md`. */
  name: string;
  /** The exact command that produced the figures. */
  command: string;
  machine: MachineInfo;
  /** Raw figures, written as they are. */
  results: unknown;
  /** Markdown body (tables, notes); the command and machine lines are added after the title. */
  title: string;
  markdown: string;
}

/** Writes `docs/benchmarks/<name>.json` and `.md`; returns their paths. */
export async function writeReport(report: BenchReport, dir = BENCHMARKS_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${report.name}.json`);
  const md = join(dir, `${report.name}.md`);
  const date = new Date().toISOString();
  const doc = {
    command: report.command,
    date,
    machine: report.machine,
    results: report.results,
  };
  await writeFile(json, JSON.stringify(doc, null, 2) + "\n");
  const m = report.machine;
  const text = [
    `# ${report.title}`,
    "",
    `Made by \`${report.command}\` on ${date.slice(0, 10)}: ${m.cpus} cores (${m.model}), ` +
      `${m.memory_gib} GiB, Node ${m.node}, ${m.platform}; load ${m.load_1m} at start (shared machine).`,
    "",
    report.markdown.trim(),
    "",
  ].join("\n");
  await writeFile(md, text);
  return [json, md].map((path) => relative(process.cwd(), path) || dirname(path));
}

/** A Markdown table from a header row and rows of cells. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}
