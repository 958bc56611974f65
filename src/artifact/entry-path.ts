/**
 * Path rules shared by pack and extract, so that pack never produces an
 * archive that extract would refuse. Paths are `/`-separated and relative to
 * the archive root.
 */

/** Most symlinks followed while resolving one path (Linux MAXSYMLINKS is 40). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Splits an entry path into its components (dropping `.` and empty ones), or
 * returns the reason it is unsafe: absolute, containing `..` or NUL.
 */
export function entryComponents(path: string): string[] | { unsafe: string } {
  if (path.includes("\0")) return { unsafe: "path contains a NUL byte" };
  if (path.startsWith("/")) return { unsafe: "absolute path" };
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return { unsafe: "path contains '..'" };
    parts.push(part);
  }
  return parts;
}

/**
 * Checks the target of the symlink at `linkPath` against the whole tree:
 * following it, and every symlink it passes through (`links`: path -> target),
 * must stay inside the root. Components that are not symlinks count as
 * directories, so a path that would fail to resolve is judged conservatively.
 * Returns the reason when it escapes, else null.
 */
export function symlinkEscape(linkPath: string, links: ReadonlyMap<string, string>): string | null {
  const target = links.get(linkPath);
  if (target === undefined) return null;
  const first = lexicalTargetEscape(linkPath, target);
  if (first !== null) return first;

  const stack = parentComponents(linkPath);
  const pending = target.split("/").reverse();
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (stack.length === 0) return `symlink points outside the archive (-> ${target})`;
      stack.pop();
      continue;
    }
    stack.push(part);
    const through = links.get(stack.join("/"));
    if (through === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) return `too many levels of symlinks (-> ${target})`;
    if (through.startsWith("/")) return `symlink points outside the archive (-> ${target})`;
    stack.pop();
    pending.push(...through.split("/").reverse());
  }
  return null;
}

/**
 * The check that needs only the link itself: the target is relative, has no
 * NUL, and read as a path from the link's folder does not climb above the root.
 */
export function lexicalTargetEscape(linkPath: string, target: string): string | null {
  if (target === "") return "empty symlink target";
  if (target.includes("\0")) return "symlink target contains a NUL byte";
  if (target.startsWith("/")) return `symlink points outside the archive (-> ${target})`;
  let depth = parentComponents(linkPath).length;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (depth === 0) return `symlink points outside the archive (-> ${target})`;
      depth--;
    } else depth++;
  }
  return null;
}

function parentComponents(path: string): string[] {
  const parts = path.split("/");
  parts.pop();
  return parts;
}
