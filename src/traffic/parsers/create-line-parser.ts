import { StrataError } from "../../lib/errors.js";
import { createClfParser } from "./clf.js";
import { createJsonLinesParser } from "./json-lines.js";
import { LOG_FORMATS, type LineParser, type LogFormatOption } from "./line-parser.js";
import { createLtsvParser } from "./ltsv.js";

/**
 * One parser instance per stream, by format name; unknown names are rejected.
 * `combined` and `common` share one scanner that accepts both shapes.
 */
export function createLineParser(format: LogFormatOption): LineParser {
  switch (format) {
    case "combined":
    case "common":
      return createClfParser();
    case "ltsv":
      return createLtsvParser();
    case "json":
      return createJsonLinesParser();
    case "auto":
      return createAutoParser();
    default:
      throw new StrataError(
        "bad_request",
        `[traffic] unknown log format "${String(format)}" (expected auto, ${LOG_FORMATS.join(", ")})`,
      );
  }
}

export function isLogFormatOption(value: string): value is LogFormatOption {
  return value === "auto" || (LOG_FORMATS as readonly string[]).includes(value);
}

/**
 * Detects the format from the first line that any parser reads, then stays
 * with it; a line the current parser rejects is offered to the others, and the
 * first that reads it becomes current. Mixed files (a format change at a
 * rotation, interleaved sources) therefore lose no good line.
 */
function createAutoParser(): LineParser {
  const parsers = [createClfParser(), createLtsvParser(), createJsonLinesParser()];
  let current = 0;
  return (buf, start, end, out) => {
    if (parsers[current]!(buf, start, end, out)) return true;
    for (let k = 0; k < parsers.length; k++) {
      if (k !== current && parsers[k]!(buf, start, end, out)) {
        current = k;
        return true;
      }
    }
    return false;
  };
}
