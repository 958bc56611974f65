import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Where `npm run build:web` writes the dashboard (gitignored). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../dist/web", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

export interface WebFile {
  type: string;
  body: Buffer;
  /** gzip of `body`, made once at load; null for types that do not shrink. */
  gzip: Buffer | null;
  /** Vite names assets by content hash: they never change under one URL. */
  immutable: boolean;
}

/**
 * The built dashboard, read once from disk into memory (a few hundred KB). Only
 * files found under the folder are served, so no request path reaches the file
 * system. Until the build exists every call looks again, so a build made after
 * the server started is picked up.
 */
export interface WebFiles {
  /** The file for a URL path (`/` is index.html); null when absent; throws nothing. */
  get(path: string): Promise<WebFile | null>;
  /** Whether the build exists (index.html is there). */
  built(): Promise<boolean>;
}

export function createWebFiles(dir: string = DEFAULT_WEB_DIR): WebFiles {
  let files: Map<string, WebFile> | null = null;

  async function load(): Promise<Map<string, WebFile> | null> {
    if (files) return files;
    const found = await stat(join(dir, "index.html")).catch(() => null);
    if (!found) return null;
    const map = new Map<string, WebFile>();
    for (const path of await walk(dir)) {
      const url = "/" + relative(dir, path).split(sep).join("/");
      const body = await readFile(path);
      const type = TYPES[extname(path)] ?? "application/octet-stream";
      const compressible = /^(text\/|application\/json|image\/svg)/.test(type);
      map.set(url, {
        type,
        body,
        gzip: compressible ? gzipSync(body, { level: 9 }) : null,
        immutable: url.startsWith("/assets/"),
      });
    }
    files = map;
    return map;
  }

  return {
    async get(path) {
      const map = await load();
      return map?.get(path === "/" ? "/index.html" : path) ?? null;
    },
    async built() {
      return (await load()) !== null;
    },
  };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}
