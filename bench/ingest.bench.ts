/**
 * Access-log ingestion speed: strata's reader (read + sha256 + parse + count
 * per minute) against GoAccess on the same generated nginx `combined` log, in
 * the same run. Writes docs/benchmarks/ingest.json and ingest.md.
 *
 *   node --import tsx bench/ingest.bench.ts [--lines 2000000] [--runs 3] [--goaccess-runs 1]
 *
 * GoAccess is the Debian package (`apt-get install -y goaccess`); without it
 * only strata is measured. Both read the file from the page cache (it is read
 * once before timing). Wall time is measured around each whole run.
 */
import { execFile, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ingestLogFile } from "../src/traffic/ingest-file.js";
import { createMinuteCounter } from "../src/traffic/minute-counter.js";
import { syntheticCombinedLog } from "../src/traffic/synthetic-log.js";

const { values: args } = parseArgs({
  options: {
    lines: { type: "string", default: "2000000" },
    runs: { type: "string", default: "3" },
    "goaccess-runs": { type: "string", default: "1" },
    out: { type: "string", default: "docs/benchmarks" },
  },
});
const LINES = Number(args.lines);
const RUNS = Number(args.runs);
const GOACCESS_RUNS = Number(args["goaccess-runs"]);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function generate(path: string): Promise<number> {
  const truth = createMinuteCounter();
  const out = createWriteStream(path);
  for (const chunk of syntheticCombinedLog({ lines: LINES, seed: 1 }, truth)) {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return truth.toArray().reduce((sum, m) => sum + m.total, 0);
}

function goaccessVersion(): string | null {
  const res = spawnSync("goaccess", ["--version"], { encoding: "utf8" });
  if (res.error || res.status !== 0) return null;
  return /GoAccess - (\d+(?:\.\d+)*)/.exec(res.stdout)?.[1] ?? res.stdout.split("\n")[0]!.trim();
}

function goaccessArgv(log: string, report: string): string[] {
  return [
    "goaccess",
    log,
    "--log-format=COMBINED",
    "--no-global-config",
    "--no-progress",
    "-o",
    report,
  ];
}

async function timeGoaccess(
  log: string,
  report: string,
): Promise<{ seconds: number; requests: number }> {
  const [file, ...argv] = goaccessArgv(log, report);
  const started = performance.now();
  await new Promise<void>((resolve, reject) =>
    execFile(file!, argv, { maxBuffer: 64 * 1024 * 1024 }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const general = (
    JSON.parse(await readFile(report, "utf8")) as { general: { valid_requests: number } }
  ).general;
  return { seconds, requests: general.valid_requests };
}

const loadBefore = loadavg()[0]!;
const work = await mkdtemp(join(tmpdir(), "strata-bench-ingest-"));
try {
  const log = join(work, "access.log");
  process.stderr.write(`generating ${LINES.toLocaleString("en-US")} combined lines...\n`);
  const expected = await generate(log);
  const bytes = (await stat(log)).size;
  await readFile(log).then(() => undefined); // page cache, for both tools alike

  const ours: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const result = await ingestLogFile(log, { format: "combined" });
    ours.push((performance.now() - started) / 1000);
    if (result.counted !== expected)
      throw new Error(`strata counted ${result.counted}, expected ${expected}`);
    process.stderr.write(`strata run ${run + 1}: ${ours.at(-1)!.toFixed(2)} s\n`);
  }
  const autoStarted = performance.now();
  await ingestLogFile(log, { format: "auto" });
  const autoSeconds = (performance.now() - autoStarted) / 1000;

  const version = goaccessVersion();
  const theirs: number[] = [];
  if (version) {
    for (let run = 0; run < GOACCESS_RUNS; run++) {
      const { seconds, requests } = await timeGoaccess(log, join(work, "goaccess.json"));
      if (requests !== expected)
        throw new Error(`goaccess counted ${requests}, expected ${expected}`);
      theirs.push(seconds);
      process.stderr.write(`goaccess run ${run + 1}: ${seconds.toFixed(2)} s\n`);
    }
  }

  const strataSeconds = median(ours);
  const goaccessSeconds = theirs.length ? median(theirs) : null;
  const result = {
    benchmark: "ingest",
    date: new Date().toISOString(),
    command:
      "node --import tsx bench/ingest.bench.ts" +
      (process.argv.length > 2 ? " " + process.argv.slice(2).join(" ") : ""),
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? "unknown",
      memory_gib: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      note: "shared with other work while measured",
      load_average_1m: { before: loadBefore, after: loadavg()[0]! },
    },
    input: { format: "nginx combined", lines: LINES, bytes, seed: 1 },
    strata: {
      what: "readLogFile + sha256 + combined parser + per-minute counter (ingestLogFile, format combined)",
      runs_s: ours,
      median_s: strataSeconds,
      lines_per_s: Math.round(LINES / strataSeconds),
      mib_per_s: Math.round(bytes / 2 ** 20 / strataSeconds),
      auto_format_s: autoSeconds,
    },
    goaccess: version
      ? {
          version,
          argv: goaccessArgv("FILE", "/tmp/goaccess.json"),
          runs_s: theirs,
          median_s: goaccessSeconds,
          lines_per_s: Math.round(LINES / goaccessSeconds!),
        }
      : { version: null, note: "goaccess not installed (apt-get install -y goaccess)" },
    ratio: goaccessSeconds ? Math.round((goaccessSeconds / strataSeconds) * 10) / 10 : null,
  };

  await mkdir(args.out!, { recursive: true });
  await writeFile(join(args.out!, "ingest.json"), JSON.stringify(result, null, 2) + "\n");
  const fmt = (n: number) => n.toLocaleString("en-US");
  const md = [
    "# Access-log ingestion",
    "",
    `${fmt(LINES)} generated nginx \`combined\` lines (${(bytes / 2 ** 20).toFixed(0)} MiB, seed 1), read from the page cache; median wall time of ${RUNS} strata run(s) and ${theirs.length} GoAccess run(s), same run.`,
    "",
    "| reader | wall time | lines/s |",
    "|---|---:|---:|",
    `| strata (\`ingestLogFile\`, read + sha256 + parse + per-minute count) | ${strataSeconds.toFixed(2)} s | ${fmt(result.strata.lines_per_s)} |`,
    version
      ? `| GoAccess ${version} (\`${goaccessArgv("FILE", "/tmp/goaccess.json").join(" ")}\`) | ${goaccessSeconds!.toFixed(2)} s | ${fmt(Math.round(LINES / goaccessSeconds!))} |`
      : "| GoAccess | not installed | |",
    "",
    result.ratio
      ? `strata is **${result.ratio}x** GoAccess's speed on this file. GoAccess builds a full report (visitors, paths, referrers, agents), strata only counts per minute and status class, so this compares the job each tool does for strata's purpose, not equal work.`
      : "",
    "",
    `Command: \`${result.command}\``,
    "",
    `Machine: ${result.machine.cpus} cores (${result.machine.cpu_model}), ${result.machine.memory_gib} GiB, Node ${process.version}, shared with other work while measured (1-minute load average ${result.machine.load_average_1m.before.toFixed(1)} before, ${result.machine.load_average_1m.after.toFixed(1)} after). Date: ${result.date.slice(0, 10)}.`,
    "",
  ].join("\n");
  await writeFile(join(args.out!, "ingest.md"), md);
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
} finally {
  await rm(work, { recursive: true, force: true });
}
