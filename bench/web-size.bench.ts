// How much JavaScript the dashboard's first load costs: builds it from the sources, then
// measures the entry's JS (the script and its module preloads) and CSS raw, gzip -9 (what
// `strata server` sends) and brotli -11, against the 200 KB compressed budget.
// Usage: npm run bench -- web-size
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build } from "vite";
import { machineInfo, markdownTable, round, writeReport } from "./lib/report.js";

const BUDGET_BYTES = 200 * 1024;
const CONFIG = fileURLToPath(new URL("../src/web/vite.config.ts", import.meta.url));

interface Sized {
  file: string;
  raw: number;
  gzip: number;
  brotli: number;
}

function size(file: string, body: Buffer): Sized {
  return {
    file,
    raw: body.length,
    gzip: gzipSync(body, { level: 9 }).length,
    brotli: brotliCompressSync(body, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
    }).length,
  };
}

const out = await mkdtemp(join(tmpdir(), "strata-web-size-"));
try {
  await build({ configFile: CONFIG, logLevel: "error", build: { outDir: out, emptyOutDir: true } });
  const html = await readFile(join(out, "index.html"), "utf8");
  // The initial load: the entry script, every module it preloads, and the stylesheet.
  const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map(
    (m) => m[1]!,
  );
  const initial = await Promise.all(
    refs.map(async (ref) => size(ref, await readFile(join(out, ref)))),
  );
  const all = (await readdir(join(out, "assets"))).filter((f) => f.endsWith(".js"));
  const js = initial.filter((f) => f.file.endsWith(".js"));
  const total = (key: "raw" | "gzip" | "brotli", files: Sized[]) =>
    files.reduce((sum, f) => sum + f[key], 0);
  const results = {
    budget_bytes: BUDGET_BYTES,
    initial_files: initial,
    initial_js: { raw: total("raw", js), gzip: total("gzip", js), brotli: total("brotli", js) },
    js_files_built: all.length,
    gzip_share_of_budget: round(total("gzip", js) / BUDGET_BYTES, 3),
  };
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const markdown = [
    "The dashboard's initial load, built from the sources by Vite (production mode). The",
    "control plane serves every file gzipped (-9) when the browser accepts it.",
    "",
    markdownTable(
      ["file", "raw", "gzip -9 (served)", "brotli -11"],
      [
        ...initial.map((f) => [
          f.file.replace(/-[\w-]+\./, "-[hash]."),
          kib(f.raw),
          kib(f.gzip),
          kib(f.brotli),
        ]),
        [
          "**initial JavaScript**",
          kib(results.initial_js.raw),
          `**${kib(results.initial_js.gzip)}**`,
          kib(results.initial_js.brotli),
        ],
      ],
    ),
    "",
    `Budget: 200 KiB of compressed JavaScript; the initial load uses ${(results.gzip_share_of_budget * 100).toFixed(1)} % of it gzipped.`,
    `${all.length} JavaScript file(s) built in all (no lazy chunks: every view is in the entry).`,
  ].join("\n");
  const written = await writeReport({
    name: "web-size",
    command: "npm run bench -- web-size",
    machine: machineInfo(),
    results,
    title: "Dashboard: initial load size",
    markdown,
  });
  console.log(markdown);
  console.error(`wrote ${written.join(", ")}`);
} finally {
  await rm(out, { recursive: true, force: true });
}
