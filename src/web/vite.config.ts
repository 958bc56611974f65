import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The dashboard: built into dist/web, which `strata server` serves at `/`. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // Served gzipped by the control plane; the size that counts is measured by bench/web-size.
    reportCompressedSize: false,
  },
});
