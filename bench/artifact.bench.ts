/**
 * Pack and extract throughput of strata's artifact code on the shared
 * generated app tree (bench/lib/app-tree.ts: 10,000 files, a ~50 MB
 * tarball), at gzip levels 6 (the default) and 1, with node-tar as a
 * baseline on the same tree in the same run. Runs are interleaved so that
 * load on the shared machine hits every variant alike, each after a `sync`
 * (writeback of earlier runs is not charged to later ones, nor is the
 * writeback of a run's own files); figures are medians.
 * Usage: npx tsx bench/artifact.bench.ts [--runs 3] [--files 10000]
 * Writes docs/benchmarks/artifact.json and docs/benchmarks/artifact.md.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as tar from "tar";
import { extractArchive } from "../src/artifact/extract.js";
import { packDirectory } from "../src/artifact/pack.js";
import { generateAppTree } from "./lib/app-tree.js";
import {
  machineInfo,
  markdownTable,
  median,
  round,
  secondsSince,
  writeReport,
} from "./lib/report.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    files: { type: "string", default: "10000" },
  },
});
const runs = Number(values.runs);
const machine = machineInfo();

interface Variant {
  name: string;
  /** Archive the variant writes (pack) or reads (extract). */
  archive: string;
  run: (run: number) => Promise<unknown>;
}

const work = await mkdtemp(join(tmpdir(), "strata-bench-artifact-"));
try {
  const src = join(work, "src");
  const tree = await generateAppTree(src, { files: Number(values.files) });
  const mb = tree.bytes / 1024 / 1024;
  const archive = (name: string) => join(work, `${name}.tar.gz`);

  const packs: Variant[] = [
    {
      name: "strata pack, level 6",
      archive: archive("strata-6"),
      run: () => packDirectory(src, archive("strata-6"), { level: 6 }),
    },
    {
      name: "strata pack, level 1",
      archive: archive("strata-1"),
      run: () => packDirectory(src, archive("strata-1"), { level: 1 }),
    },
    {
      name: "node-tar pack (level 6)",
      archive: archive("node-tar"),
      run: () => tar.c({ gzip: true, file: archive("node-tar"), cwd: src, portable: true }, ["."]),
    },
  ];
  const extracts: Variant[] = [
    {
      name: "strata extract",
      archive: archive("strata-6"),
      run: (run) => extractArchive(archive("strata-6"), join(work, `x-strata-${run}`)),
    },
    {
      name: "node-tar extract",
      archive: archive("strata-6"),
      run: async (run) => {
        const dest = join(work, `x-node-tar-${run}`);
        await mkdir(dest);
        await tar.x({ file: archive("strata-6"), cwd: dest });
      },
    },
  ];

  const seconds = new Map<string, number[]>();
  for (let run = 0; run < runs; run++) {
    for (const variant of [...packs, ...extracts]) {
      // Flush earlier runs' dirty pages first (untimed), or later runs pay for their writeback.
      // Extracted trees are kept until the end: deleting 20,000 files between runs slowed the next ones.
      spawnSync("sync");
      const started = process.hrtime.bigint();
      await variant.run(run);
      const took = secondsSince(started);
      seconds.set(variant.name, [...(seconds.get(variant.name) ?? []), took]);
      process.stderr.write(`${variant.name}: ${took.toFixed(2)} s\n`);
    }
  }

  const results = [];
  for (const variant of [...packs, ...extracts]) {
    const all = seconds.get(variant.name) ?? [];
    const mid = median(all);
    results.push({
      name: variant.name,
      seconds: round(mid),
      runs: all.map((s) => round(s)),
      mb_per_s: round(mb / mid, 1),
      archive_bytes: (await stat(variant.archive)).size,
    });
  }
  const command = `npx tsx bench/artifact.bench.ts --runs ${runs} --files ${tree.files}`;
  const written = await writeReport({
    name: "artifact",
    command,
    machine,
    results: { input: tree, results },
    title: "Artifact pack and extract",
    markdown: [
      `Input: ${tree.files} files, ${round(mb, 1)} MiB (bench/lib/app-tree.ts). Median of ${runs} interleaved runs; MB/s is input MiB per second.`,
      "",
      markdownTable(
        ["operation", "median s", "MiB/s", "archive bytes"],
        results.map((r) => [r.name, r.seconds, r.mb_per_s, r.archive_bytes]),
      ),
    ].join("\n"),
  });
  console.log(JSON.stringify({ command, machine, input: tree, results, written }, null, 2));
} finally {
  await rm(work, { recursive: true, force: true });
}
