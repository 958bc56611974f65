import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { StrataError } from "../../lib/errors.js";
import { isGzip, readLogFile } from "../log-source.js";
import {
  createCountsCsvReader,
  type CountsCsvOptions,
  type CountsCsvResult,
} from "./counts-reader.js";
import { createLineSplitter } from "./csv-line.js";

/** Reads a whole CSV from text or byte chunks as a stream yields them (plain or gzip, by magic bytes). */
export async function readCountsCsv(
  source:
    Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array> | NodeJS.ReadableStream,
  options: CountsCsvOptions,
): Promise<CountsCsvResult> {
  const reader = createCountsCsvReader(options);
  const lines = createLineSplitter(reader.pushLine);
  const input = Readable.from(source as AsyncIterable<string | Uint8Array>, { objectMode: false });
  for await (const chunk of await decoded(input)) {
    lines.write(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Uint8Array));
  }
  lines.end();
  return reader.end();
}

/**
 * Reads a CSV file, plain or gzip, through the log reader (gzip recognised by its magic
 * bytes). A truncated or damaged gzip is an error. Errors name the file.
 */
export async function readCountsCsvFile(
  path: string,
  options: CountsCsvOptions,
): Promise<CountsCsvResult> {
  try {
    const reader = createCountsCsvReader(options);
    const lines = createLineSplitter(reader.pushLine);
    const read = await readLogFile(path, { onData: (chunk) => lines.write(chunk) });
    const damage = read.errors[0];
    if (damage)
      throw new StrataError(
        "bad_request",
        damage.message.replace("[traffic] gzip:", "[traffic] counts: gzip"),
      );
    lines.end();
    return reader.end();
  } catch (err) {
    if (err instanceof StrataError) {
      throw new StrataError(
        err.code,
        err.message.replace("[traffic] counts:", `[traffic] counts ${path}:`),
        { cause: err },
      );
    }
    const code = (err as NodeJS.ErrnoException).code;
    throw new StrataError(
      code === "ENOENT" ? "not_found" : "bad_request",
      `[traffic] counts ${path}: ${String(err)}`,
      { cause: err },
    );
  }
}

/** The stream as it is, or gunzipped when its first bytes are the gzip magic. */
async function decoded(input: Readable): Promise<AsyncIterable<string | Uint8Array>> {
  const it = input[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) return Readable.from([]);
  const head = first.value as Uint8Array | string;
  const rest = (async function* () {
    yield head;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Uint8Array | string;
    }
  })();
  const stream = Readable.from(rest, { objectMode: false });
  return typeof head !== "string" && isGzip(head) ? stream.pipe(createGunzip()) : stream;
}
