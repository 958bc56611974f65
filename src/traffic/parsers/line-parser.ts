/** Log formats strata reads. `auto` detects per stream and re-detects when lines change format. */
export const LOG_FORMATS = ["combined", "common", "ltsv", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogFormatOption = LogFormat | "auto";

/** What a parser fills in for one line; reused across lines to avoid allocation. */
export interface ParsedLine {
  /** Start of the request's UTC minute, Unix ms. */
  minute: number;
  /** HTTP status code. */
  status: number;
  /** The format the line was read as (`combined` vs `common` tells whether referer and user agent follow). */
  format: LogFormat;
}

/**
 * Parses one line, bytes [start, end) of `buf` without the newline, into `out`.
 * Returns false for a line it cannot read; then `out` is unspecified. Must
 * never throw and never read outside the buffer in a way that matters.
 * A parser may keep caches between calls, so one instance serves one stream.
 */
export type LineParser = (buf: Buffer, start: number, end: number, out: ParsedLine) => boolean;

export function newParsedLine(): ParsedLine {
  return { minute: NaN, status: 0, format: "combined" };
}
