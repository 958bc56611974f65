import { StrataError } from "../lib/errors.js";
import type { TrafficSource } from "../wire/traffic.js";
import { MINUTE_MS, type MinuteCounts } from "../traffic/minute-counter.js";

export type { TrafficSource } from "../wire/traffic.js";

export interface AddTrafficResult {
  /** Minutes added (0 for a duplicate). */
  accepted: number;
  /** This source, part or byte range was stored before; nothing changed. */
  duplicate: boolean;
}

/** Requests of one UTC hour. */
export interface HourCounts {
  /** Start of the hour, Unix ms (UTC). */
  hour: number;
  total: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** Minutes of the hour that have data; below 60 the hour is partly missing, not quiet. */
  minutes: number;
}

/** Where a followed file was read to. */
export interface TrafficCheckpoint {
  key: string;
  inode: number | null;
  /** Byte offset after the last line counted. */
  offset: number;
  path: string | null;
  /** Unix ms. */
  updatedAt: number;
}

/**
 * Per-minute request counts per app, and the sources they came from. Every
 * method is async so that PostgreSQL can implement the same interface; every
 * method may run concurrently with any other, and each is one transaction.
 */
export interface TrafficRepo {
  /**
   * Adds counts to an app's minutes (additive: a minute posted twice holds
   * the sum). Called by the control plane for every ingested batch.
   * With a `source`, the batch is accepted once: a whole-file (key, part)
   * seen before, or a followed-file range ending at or before the key's
   * checkpoint, is reported as `duplicate` and changes nothing; an accepted
   * range moves the checkpoint to `end`. Idempotent with a source, additive
   * (not idempotent) without. All or nothing: a batch with one invalid minute
   * stores nothing.
   * @throws StrataError `bad_request` for invalid counts or source, `conflict`
   * for a range that overlaps the checkpoint partly.
   */
  add(app: string, minutes: MinuteCounts[], source?: TrafficSource): Promise<AddTrafficResult>;
  /** Stored minutes of [from, to) (Unix ms), oldest first; minutes without data are absent. Read-only. */
  minutes(app: string, from: number, to: number): Promise<MinuteCounts[]>;
  /**
   * Hourly sums of the minutes in [from, to) (Unix ms; pass whole hours),
   * oldest first; hours without any data are absent. Read by the forecaster
   * for training and scoring. Read-only.
   */
  hourly(app: string, from: number, to: number): Promise<HourCounts[]>;
  /** The checkpoint of a followed file, read by `strata ingest --follow` before it resumes. Read-only. */
  checkpoint(app: string, key: string): Promise<TrafficCheckpoint | null>;
  /**
   * Deletes the app's minutes, sources and checkpoints (`app rm`), in one
   * transaction; resolves whether there was any. Idempotent.
   */
  deleteApp(app: string): Promise<boolean>;
}

const KEY = /^[\x21-\x7e]{1,200}$/;

/**
 * Checks a batch before any implementation stores it, so every store rejects
 * the same input with the same message. Returns the kind of source.
 */
export function checkTrafficBatch(
  minutes: MinuteCounts[],
  source?: TrafficSource,
): "none" | "part" | "range" {
  for (const m of minutes) {
    const counts = [m.total, m.s2xx, m.s3xx, m.s4xx, m.s5xx];
    if (!Number.isSafeInteger(m.minute) || m.minute < 0 || m.minute % MINUTE_MS !== 0) {
      throw new StrataError(
        "bad_request",
        `[traffic] minute ${m.minute} is not the start of a minute in Unix ms`,
      );
    }
    if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new StrataError(
        "bad_request",
        `[traffic] minute ${new Date(m.minute).toISOString()}: counts must be integers >= 0`,
      );
    }
    if (m.s2xx + m.s3xx + m.s4xx + m.s5xx > m.total) {
      throw new StrataError(
        "bad_request",
        `[traffic] minute ${new Date(m.minute).toISOString()}: status classes add up to more than total`,
      );
    }
  }
  if (!source) return "none";
  if (typeof source.key !== "string" || !KEY.test(source.key)) {
    throw new StrataError(
      "bad_request",
      "[traffic] source.key: 1-200 printable characters without spaces",
    );
  }
  const isOffset = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  if (source.inode !== undefined && !isOffset(source.inode)) {
    throw new StrataError("bad_request", "[traffic] source.inode: expected an integer >= 0");
  }
  if (source.start !== undefined || source.end !== undefined) {
    if (source.part !== undefined) {
      throw new StrataError(
        "bad_request",
        "[traffic] source: give either part or start/end, not both",
      );
    }
    if (!isOffset(source.start) || !isOffset(source.end) || source.end! < source.start!) {
      throw new StrataError(
        "bad_request",
        "[traffic] source.start/end: expected integers with 0 <= start <= end",
      );
    }
    return "range";
  }
  if (source.part !== undefined && !isOffset(source.part)) {
    throw new StrataError("bad_request", "[traffic] source.part: expected an integer >= 0");
  }
  return "part";
}
