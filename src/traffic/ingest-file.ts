import { createHash } from "node:crypto";
import { createLogCounter, type LogStats } from "./log-counter.js";
import { readLogFile, type DecodeError } from "./log-source.js";
import type { MinuteCounts } from "./minute-counter.js";
import type { LogFormatOption } from "./parsers/line-parser.js";

export interface IngestFileOptions {
  /** @default "auto" */
  format?: LogFormatOption;
  /** Bytes per read. @default 1 MiB */
  chunkSize?: number;
  /** Called after every chunk with the decoded bytes so far and the lines seen. */
  onProgress?: (progress: { decodedBytes: number; lines: number }) => void;
  /** Malformed lines kept as samples. @default 5 */
  maxSamples?: number;
}

/** A whole log file, read and counted. */
export interface FileIngest extends LogStats {
  path: string;
  gzip: boolean;
  fileBytes: number;
  decodedBytes: number;
  /**
   * `sha256:<hex>` of the decoded content: the identity used to skip a file
   * ingested before, also after logrotate has compressed it.
   */
  sha256: string;
  /** Decoding damage (truncated or corrupt gzip); the lines before it are counted. */
  errors: DecodeError[];
  /** Requests per UTC minute, oldest first. */
  minutes: MinuteCounts[];
}

/** Reads a plain or gzip log file and counts its requests per minute. Never throws on bad content. */
export async function ingestLogFile(
  path: string,
  options: IngestFileOptions = {},
): Promise<FileIngest> {
  const counter = createLogCounter({
    ...(options.format ? { format: options.format } : {}),
    ...(options.maxSamples !== undefined ? { maxSamples: options.maxSamples } : {}),
  });
  const hash = createHash("sha256");
  let decodedBytes = 0;
  const read = await readLogFile(path, {
    ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    onData(chunk) {
      hash.update(chunk);
      counter.write(chunk);
      decodedBytes += chunk.length;
      options.onProgress?.({ decodedBytes, lines: counter.stats.lines });
    },
  });
  counter.end();
  return {
    path,
    gzip: read.gzip,
    fileBytes: read.fileBytes,
    decodedBytes: read.decodedBytes,
    sha256: `sha256:${hash.digest("hex")}`,
    errors: read.errors,
    ...counter.stats,
    minutes: counter.counts.toArray(),
  };
}
