/**
 * `.strataignore`: gitignore-style patterns (https://git-scm.com/docs/gitignore):
 * comments, blank lines, `!` negation, trailing `/` = directories only, a `/`
 * at the start or in the middle anchors the pattern to the root, `*`, `?`,
 * `[...]`, and `**` as a whole component. The last matching pattern wins, and
 * nothing inside an ignored directory can be re-included.
 */

/** Ignore file read from the root of a packed folder. */
export const IGNORE_FILE = ".strataignore";

interface IgnoreRule {
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

/**
 * Returns whether `relPath` (`/`-separated, relative to the root) is ignored,
 * including because one of its parent folders is. `patterns` are lines of an
 * ignore file; an element holding several lines is split.
 */
export function createIgnoreMatcher(
  patterns: string[],
): (relPath: string, isDir: boolean) => boolean {
  const matchesSelf = createSelfMatcher(patterns);
  return (relPath, isDir) => {
    const parts = relPath.split("/").filter((part) => part !== "" && part !== ".");
    for (let i = 1; i < parts.length; i++) {
      if (matchesSelf(parts.slice(0, i).join("/"), true)) return true;
    }
    return parts.length > 0 && matchesSelf(parts.join("/"), isDir);
  };
}

/**
 * Like createIgnoreMatcher without looking at parents: for walkers that never
 * descend into an ignored folder.
 */
export function createSelfMatcher(
  patterns: string[],
): (relPath: string, isDir: boolean) => boolean {
  const rules = patterns
    .flatMap((pattern) => pattern.split(/\r?\n/))
    .map(compileRule)
    .filter((rule): rule is IgnoreRule => rule !== null)
    .reverse();
  return (relPath, isDir) => {
    for (const rule of rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.regex.test(relPath)) return !rule.negate;
    }
    return false;
  };
}

function compileRule(line: string): IgnoreRule | null {
  let pattern = trimTrailingSpaces(line.replace(/\r$/, ""));
  if (pattern === "" || pattern.startsWith("#")) return null;
  let negate = false;
  if (pattern.startsWith("!")) {
    negate = true;
    pattern = pattern.slice(1);
  } else if (pattern.startsWith("\\!") || pattern.startsWith("\\#")) {
    pattern = pattern.slice(1);
  }
  const dirOnly = pattern.endsWith("/");
  if (dirOnly) pattern = pattern.slice(0, -1);
  const anchored = pattern.includes("/");
  if (pattern.startsWith("/")) pattern = pattern.slice(1);
  if (pattern === "") return null;
  const body = globToRegex(pattern);
  return { negate, dirOnly, regex: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) };
}

/** Trailing spaces are dropped unless escaped with a backslash (gitignore). */
function trimTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === " " && line[end - 2] !== "\\") end--;
  return line.slice(0, end);
}

function globToRegex(pattern: string): string {
  const segments = pattern.split("/");
  const last = segments.length - 1;
  let out = "";
  segments.forEach((segment, i) => {
    if (segment === "**") {
      // Leading or middle `**/` matches zero or more folders; a trailing `/**` everything inside.
      out += i === last ? ".*" : "(?:.*/)?";
      return;
    }
    out += segmentToRegex(segment);
    if (i < last) out += "/";
  });
  return out;
}

function segmentToRegex(segment: string): string {
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] as string;
    if (char === "*") out += "[^/]*";
    else if (char === "?") out += "[^/]";
    else if (char === "\\" && i + 1 < segment.length) out += escapeRegex(segment[++i] as string);
    else if (char === "[") {
      const close = findClassEnd(segment, i);
      if (close === -1) out += "\\[";
      else {
        out += classToRegex(segment.slice(i + 1, close));
        i = close;
      }
    } else out += escapeRegex(char);
  }
  return out;
}

/** Index of the `]` closing the class opened at `open`, or -1 (then `[` is literal). */
function findClassEnd(segment: string, open: number): number {
  let i = open + 1;
  if (segment[i] === "!" || segment[i] === "^") i++;
  if (segment[i] === "]") i++; // a leading `]` is a member, not the end
  for (; i < segment.length; i++) {
    if (segment[i] === "\\") i++;
    else if (segment[i] === "]") return i;
  }
  return -1;
}

function classToRegex(body: string): string {
  let out = "[";
  let i = 0;
  if (body[0] === "!" || body[0] === "^") {
    out += "^";
    i = 1;
  }
  for (; i < body.length; i++) {
    const char = body[i] as string;
    if (char === "\\" && i + 1 < body.length) out += classMember(body[++i] as string);
    else if (char === "-") out += "-";
    else out += classMember(char);
  }
  // A class never matches the separator, even negated.
  return out.startsWith("[^") ? `(?!/)${out}]` : `${out}]`;
}

function classMember(char: string): string {
  return /[\\\]^[-]/.test(char) ? `\\${char}` : char;
}

function escapeRegex(char: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(char) ? `\\${char}` : char;
}
