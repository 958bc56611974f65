/** Splits one CSV line (RFC 4180 quoting, no embedded newlines). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const FALSY = new Set(["", "0", "false", "no", "n", "f", "off"]);
const TRUTHY = new Set(["1", "true", "yes", "y", "t", "on"]);

/** Reads a flag cell: `1`/`true`/`yes`..., `0`/`false`/empty..., or any number (non-zero is true). */
export function parseFlag(text: string): boolean | undefined {
  const s = text.trim().toLowerCase();
  if (FALSY.has(s)) return false;
  if (TRUTHY.has(s)) return true;
  const n = Number(s);
  return Number.isFinite(n) ? n !== 0 : undefined;
}

/**
 * Cuts a stream of UTF-8 bytes into lines (without `\n`; a `\r` before it is left for the
 * caller), calling `onLine` for each as soon as it is complete. `end()` flushes a last line
 * that has no newline. One splitter per stream.
 */
export function createLineSplitter(onLine: (line: string) => void): {
  write(chunk: Uint8Array): void;
  end(): void;
} {
  const decoder = new TextDecoder("utf-8");
  let pending = "";
  return {
    write(chunk) {
      const text = pending + decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        onLine(text.slice(start, nl));
        start = nl + 1;
      }
      pending = text.slice(start);
    },
    end() {
      const rest = pending + decoder.decode();
      pending = "";
      if (rest !== "") onLine(rest);
    },
  };
}
