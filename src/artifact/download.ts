import { tlsOptions } from "../lib/tls-fetch.js";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream } from "node:stream/web";
import type { Clock } from "../lib/clock.js";
import { StrataError, messageOf } from "../lib/errors.js";
import { createDigest } from "./digest.js";
import { retry } from "../lib/retry.js";

export interface FetchArtifactOptions {
  url: string;
  /** Per-agent bearer token. */
  token: string;
  /** Expected `sha256:<hex>` of the body. */
  releaseId: string;
  /** Expected size in bytes. */
  size: number;
  /** Final path; written only after the body is verified (`<dest>.part` until then). */
  dest: string;
  clock: Clock;
  signal?: AbortSignal;
  /** PEM of the CA to trust for https (strata's own). */
  ca?: string;
  /** Tries in all. @default 5 */
  attempts?: number;
  /** First backoff cap; doubles per try (full jitter). @default 250 */
  baseDelayMs?: number;
  /** @default 8000 */
  maxDelayMs?: number;
  /** @default Math.random */
  random?: () => number;
}

/** Tells a retryable transfer problem from a verdict on the artifact itself. */
class Transient extends Error {}

/**
 * Downloads an artifact, hashing while streaming, and renames it to `dest`
 * once size and checksum match. Network errors, truncated bodies, 408/429 and
 * 5xx are retried with exponential backoff and full jitter. A complete body
 * with the wrong checksum, or a body longer than expected, is not retried:
 * the stored artifact itself is corrupt, and every agent downloading it again
 * would only multiply the load. Leaves nothing behind on failure.
 */
export async function fetchArtifact(options: FetchArtifactOptions): Promise<{ attempts: number }> {
  const part = `${options.dest}.part`;
  let tries = 0;
  try {
    await retry(
      async (attempt) => {
        tries = attempt;
        try {
          await downloadOnce(options, part);
          await rename(part, options.dest);
        } catch (err) {
          await rm(part, { force: true });
          throw err;
        }
      },
      {
        clock: options.clock,
        ...(options.signal ? { signal: options.signal } : {}),
        retryable: (err) => err instanceof Transient,
        attempts: options.attempts ?? 5,
        baseDelayMs: options.baseDelayMs ?? 250,
        maxDelayMs: options.maxDelayMs ?? 8000,
        ...(options.random ? { random: options.random } : {}),
      },
    );
  } catch (err) {
    if (!(err instanceof Transient)) throw err;
    throw new StrataError(
      "unavailable",
      `[agent] fetch: ${options.url}: ${err.message} (gave up after ${tries} tries)`,
      { cause: err.cause },
    );
  }
  return { attempts: tries };
}

async function downloadOnce(options: FetchArtifactOptions, part: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(options.url, {
      headers: { authorization: `Bearer ${options.token}` },
      signal: options.signal ?? null,
      ...(await tlsOptions(options.ca)),
    } as RequestInit);
  } catch (err) {
    throw new Transient(networkMessage(err), { cause: err });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const problem = `HTTP ${res.status}`;
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Transient(problem);
    const code =
      res.status === 401 ? "unauthorized" : res.status === 404 ? "not_found" : "internal";
    throw new StrataError(code, `[agent] fetch: ${options.url}: ${problem}`);
  }

  const digest = createDigest();
  let bytes = 0;
  const verify = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > options.size) {
        throw new StrataError(
          "checksum_mismatch",
          `[agent] fetch: ${options.releaseId} is larger than its recorded ${options.size} bytes`,
        );
      }
      digest.update(chunk);
      yield chunk;
    }
  };
  try {
    await pipeline(
      Readable.fromWeb(res.body as ReadableStream<Uint8Array>),
      verify,
      createWriteStream(part),
    );
  } catch (err) {
    if (err instanceof StrataError || options.signal?.aborted) throw err;
    throw new Transient(networkMessage(err), { cause: err });
  }
  if (bytes < options.size) {
    throw new Transient(`body ended after ${bytes} of ${options.size} bytes`);
  }
  const actual = digest.id();
  if (actual !== options.releaseId) {
    throw new StrataError(
      "checksum_mismatch",
      `[agent] fetch: checksum mismatch for ${options.releaseId} (got ${actual})`,
    );
  }
}

function networkMessage(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? messageOf(err);
}
