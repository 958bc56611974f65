#!/usr/bin/env node
// Runs the benchmarks: every bench/*.bench.ts with tsx, one after another (they time things, so
// never two at once), or only those whose file name contains one of the arguments. Arguments
// after a `--` are passed to each selected bench. Each bench writes docs/benchmarks/<name>.{json,md}.
// Usage: npm run bench [-- fanout wakeup [-- --runs 1]]
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const argv = process.argv.slice(2);
const split = argv.indexOf("--");
const filters = split === -1 ? argv : argv.slice(0, split);
const passed = split === -1 ? [] : argv.slice(split + 1);

const all = readdirSync("bench")
  .filter((name) => name.endsWith(".bench.ts"))
  .sort();
const selected = all.filter(
  (name) => filters.length === 0 || filters.some((f) => name.includes(f)),
);
if (selected.length === 0) {
  console.error(`no bench matched ${filters.join(", ")} (have: ${all.join(", ")})`);
  process.exit(1);
}

const failed = [];
for (const name of selected) {
  const file = join("bench", name);
  console.error(`\n== ${file} ${passed.join(" ")}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, ["--import", "tsx", file, ...passed], {
    stdio: "inherit",
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.status === 0) console.error(`== ${file}: done in ${seconds} s`);
  else {
    failed.push(name);
    console.error(
      `== ${file}: failed (${result.signal ?? `exit ${result.status}`}) after ${seconds} s`,
    );
  }
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exit(1);
}
