/**
 * Service-in from the current image, this tree's code against another tree's
 * (main's), in the same conditions: runs bench/service-in.bench.ts condition
 * (c) in each tree by turns (base, this, this, base, ...), so drift on a
 * shared machine hits both alike. The other tree gets this tree's bench (and
 * the boot trace's file name it reads), so only the product code differs; its
 * agent writes no boot trace, so its milestones are the control plane's.
 *
 * Usage: node --import tsx bench/service-in-vs.bench.ts --base DIR [--rounds 2] [--launches 5] [--size-mb 50] [--net 127.82] [--out PATH]
 * Writes docs/benchmarks/service-in-vs-main.json and .md (or PATH.json and PATH.md).
 */
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";

const HERE = fileURLToPath(new URL("..", import.meta.url));

const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    rounds: { type: "string", default: "2" },
    launches: { type: "string", default: "5" },
    "size-mb": { type: "string", default: "50" },
    net: { type: "string", default: "127.82" },
    /** Path of the results without `.json` / `.md`. @default docs/benchmarks/service-in-vs-main */
    out: { type: "string" },
  },
});
const OUT =
  args.out ?? fileURLToPath(new URL("../docs/benchmarks/service-in-vs-main", import.meta.url));
if (!args.base) throw new Error("--base DIR (a checkout of main with node_modules) is required");
const BASE = args.base;
const ROUNDS = Number(args.rounds);

type Side = "main" | "this";
interface Run {
  app_start_health_ms: { samples: number[] };
  launches: { c: { lag_ms: number; milestones: Record<string, number | null> }[] };
  machine: { load_average: number[] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function main(): Promise<void> {
  for (const file of ["bench/service-in.bench.ts", "src/runtime/boot-trace.ts"])
    await copyFile(join(HERE, file), join(BASE, file));
  const work = await mkdtemp(join(tmpdir(), "strata-bench-service-in-vs-"));
  const loadBefore = loadavg()[0]!;
  const runs: Record<Side, Run[]> = { main: [], this: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order: Side[] = round % 2 === 0 ? ["main", "this"] : ["this", "main"];
      for (const side of order) {
        const out = join(work, `${side}-${round}`);
        process.stderr.write(`[bench] round ${round + 1}: ${side}\n`);
        await promisify(execFile)(
          process.execPath,
          [
            "--import",
            "tsx",
            "bench/service-in.bench.ts",
            ...["--conditions", "c", "--bake-sizes", "", "--launches", args.launches],
            ...["--size-mb", args["size-mb"], "--net", args.net, "--out", out],
          ],
          { cwd: side === "main" ? BASE : HERE, maxBuffer: 64 * 1024 * 1024 },
        );
        runs[side].push(JSON.parse(await readFile(`${out}.json`, "utf8")) as Run);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const milestones = Object.keys(runs.this[0]!.launches.c[0]!.milestones);
  const summary = (side: Side) => {
    const launches = runs[side].flatMap((r) => r.launches.c);
    const app = median(runs[side].flatMap((r) => r.app_start_health_ms.samples));
    const lag = median(launches.map((l) => l.lag_ms));
    const at = Object.fromEntries(
      milestones.map((m) => {
        const xs = launches.map((l) => l.milestones[m]).filter((x): x is number => x != null);
        return [m, xs.length ? Math.round(median(xs)) : null];
      }),
    );
    return {
      runs: runs[side].map((r) => ({
        load_average: r.machine.load_average,
        lags_ms: r.launches.c.map((l) => l.lag_ms),
        app_start_health_ms: r.app_start_health_ms.samples,
      })),
      launches: launches.length,
      lags_ms: launches.map((l) => l.lag_ms),
      median_lag_ms: lag,
      app_start_health_median_ms: Math.round(app),
      ratio_to_app: +(lag / app).toFixed(2),
      milestones_median_ms: at,
    };
  };
  const sides = { main: summary("main"), this: summary("this") };
  const result = {
    benchmark: "service-in-vs-main",
    command: `node --import tsx bench/service-in-vs.bench.ts --base ${BASE} --rounds ${ROUNDS} --launches ${args.launches} --size-mb ${args["size-mb"]} --net ${args.net}`,
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? "unknown",
      node: process.version,
      load_average: [+loadBefore.toFixed(2), +loadavg()[0]!.toFixed(2)],
    },
    sides,
    this_over_main: +(sides.this.median_lag_ms / sides.main.median_lag_ms).toFixed(2),
  };
  await writeFile(`${OUT}.json`, JSON.stringify(result, null, 2) + "\n");
  const row = (side: Side) => {
    const s = sides[side];
    const cells = milestones.map((m) => s.milestones_median_ms[m] ?? "—");
    return `| ${side} | ${s.launches} | ${s.median_lag_ms} | ${s.app_start_health_median_ms} | ${s.ratio_to_app}× | ${cells.join(" | ")} |`;
  };
  const md = [
    "# Service-in from the current image: main against this branch",
    "",
    `Command: \`${result.command}\``,
    `Machine: ${result.machine.cpus} × ${result.machine.cpu}, Node ${result.machine.node}; load average ${result.machine.load_average.join(" → ")} (shared machine). ${result.date}.`,
    "",
    `Condition (c) of [service-in.md](service-in.md): launch → first request served through the balancer from the current image (${args["size-mb"]} MiB release); the two trees by turns, ${ROUNDS} runs each. Milestones: median ms after the launch request (— where main's agent writes no boot trace).`,
    "",
    `| code | launches | median lag (ms) | app alone (ms) | lag / app alone | ${milestones.join(" | ")} |`,
    `|---|---:|---:|---:|---:|${milestones.map(() => "---:").join("|")}|`,
    row("main"),
    row("this"),
    "",
    `This branch's median lag is **${result.this_over_main}×** main's.`,
    "",
  ].join("\n");
  await writeFile(`${OUT}.md`, md);
  process.stdout.write(md);
}

await main();
