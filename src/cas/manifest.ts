import { createHash } from "node:crypto";
import { StrataError } from "../lib/errors.js";
import { entryComponents, lexicalTargetEscape, symlinkEscape } from "../artifact/entry-path.js";

/**
 * The per-file manifest of a release: every folder, file and symlink of the
 * tarball with its mode, size and sha256. `strata build` writes it as the
 * tarball's last member (MANIFEST_FILE), so the release id (the tarball's
 * sha256) covers it; the control plane checks it against the archive at upload
 * and signs its digest with the release for agents that never see the tarball.
 */
export type ManifestEntry =
  | { kind: "directory"; path: string }
  | { kind: "file"; path: string; mode: 0o644 | 0o755; size: number; sha256: string }
  | { kind: "symlink"; path: string; target: string };

/** The manifest's member name at the top of every tarball `strata build` makes. */
export const MANIFEST_FILE = ".strata-manifest";
const HEADER = "strata-manifest-v1";
const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The canonical bytes: a version line, then one JSON array per entry sorted
 * by path (code-unit order), so one set of entries has exactly one encoding
 * and an agent can check it against a signed digest.
 */
export function encodeManifest(entries: readonly ManifestEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines = [HEADER];
  for (const entry of sorted) {
    if (entry.kind === "directory") lines.push(JSON.stringify(["d", entry.path]));
    else if (entry.kind === "symlink") lines.push(JSON.stringify(["l", entry.path, entry.target]));
    else {
      const mode = entry.mode === 0o755 ? "0755" : "0644";
      lines.push(JSON.stringify(["f", entry.path, mode, entry.size, entry.sha256]));
    }
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

export function manifestDigest(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface ManifestLimits {
  /** Largest total of file bytes. */
  maxBytes: number;
  /** Most entries. */
  maxEntries: number;
}

/**
 * Parses manifest bytes and applies extraction's rules to them: canonical
 * encoding, relative paths without `..`, each parent a folder listed before
 * it, symlinks that stay inside the tree, the size and entry limits. Throws
 * StrataError("unsafe_archive" | "too_large", "[cas] manifest: <path>: <reason>").
 */
export function parseManifest(bytes: Buffer, limits: ManifestLimits): ManifestEntry[] {
  const text = bytes.toString("utf8");
  const lines = text.split("\n");
  if (lines[0] !== HEADER || lines.pop() !== "") throw unsafe("", "not a strata manifest");
  if (lines.length - 1 > limits.maxEntries) {
    throw new StrataError("too_large", `[cas] manifest: more than ${limits.maxEntries} entries`);
  }
  const entries: ManifestEntry[] = [];
  const kinds = new Map<string, ManifestEntry["kind"]>();
  const links = new Map<string, string>();
  let bytesTotal = 0;
  for (const line of lines.slice(1)) {
    const entry = parseLine(line);
    const parts = entryComponents(entry.path);
    if (!Array.isArray(parts) || parts.join("/") !== entry.path || parts.length === 0) {
      throw unsafe(entry.path, Array.isArray(parts) ? "not a canonical path" : parts.unsafe);
    }
    if (kinds.has(entry.path)) throw unsafe(entry.path, "duplicate entry");
    const parent = parts.slice(0, -1).join("/");
    if (parent !== "" && kinds.get(parent) !== "directory") {
      throw unsafe(entry.path, `parent ${parent} is not a folder listed before it`);
    }
    if (entry.kind === "symlink") {
      const escape = lexicalTargetEscape(entry.path, entry.target);
      if (escape !== null) throw unsafe(entry.path, escape);
      links.set(entry.path, entry.target);
    }
    if (entry.kind === "file") {
      bytesTotal += entry.size;
      if (bytesTotal > limits.maxBytes) {
        throw new StrataError(
          "too_large",
          `[cas] manifest: ${entry.path}: files exceed ${limits.maxBytes} bytes`,
        );
      }
    }
    kinds.set(entry.path, entry.kind);
    entries.push(entry);
  }
  for (const path of links.keys()) {
    const escape = symlinkEscape(path, links);
    if (escape !== null) throw unsafe(path, escape);
  }
  if (!encodeManifest(entries).equals(bytes)) throw unsafe("", "not in canonical form");
  return entries;
}

function parseLine(line: string): ManifestEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw unsafe("", `malformed line ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (!Array.isArray(value) || typeof value[1] !== "string") throw unsafe("", "malformed entry");
  const [kind, path] = value as [unknown, string];
  if (kind === "d" && value.length === 2) return { kind: "directory", path };
  if (kind === "l" && value.length === 3 && typeof value[2] === "string") {
    return { kind: "symlink", path, target: value[2] };
  }
  const [, , mode, size, sha256] = value as unknown[];
  if (
    kind === "f" &&
    value.length === 5 &&
    (mode === "0644" || mode === "0755") &&
    Number.isSafeInteger(size) &&
    (size as number) >= 0 &&
    typeof sha256 === "string" &&
    SHA256_HEX.test(sha256)
  ) {
    return {
      kind: "file",
      path,
      mode: mode === "0755" ? 0o755 : 0o644,
      size: size as number,
      sha256,
    };
  }
  throw unsafe(path, "malformed entry");
}

function unsafe(path: string, reason: string): StrataError {
  return new StrataError("unsafe_archive", `[cas] manifest: ${path ? `${path}: ` : ""}${reason}`);
}
