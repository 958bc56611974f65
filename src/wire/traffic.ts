import { z } from "zod";

/** Requests of one UTC minute on the wire. `total` also counts 1xx and unknown status codes. */
export interface TrafficMinute {
  /** ISO 8601 in UTC at a whole minute, e.g. `2024-03-01T09:15:00.000Z`. */
  minute: string;
  total: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
}

/**
 * Where posted counts came from, so that the same lines are never counted
 * twice. Whole files: `key` is `sha256:<hex>` of the decoded content and
 * `part` numbers the batches of one file; a (key, part) is accepted once.
 * Followed files: `key` is `follow:<hex>` and [`start`, `end`) the byte range
 * the batch covers; the server keeps `end` as the file's checkpoint.
 */
export interface TrafficSource {
  key: string;
  part?: number;
  start?: number;
  end?: number;
  inode?: number;
  /** Informational: the file's path on the machine that read it. */
  path?: string;
}

const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Body of `POST /v1/apps/:app/traffic`. Minute times are checked by the route (ISO with a zone). */
export const PostTrafficRequestSchema = z.strictObject({
  source: z
    .strictObject({
      key: z.string().min(1).max(200),
      part: z.int().min(0).optional(),
      start: z.int().min(0).optional(),
      end: z.int().min(0).optional(),
      inode: z.int().min(0).optional(),
      path: z.string().max(4096).optional(),
    })
    .optional(),
  // Bounded by the body limit; the route names the per-post maximum when it is passed.
  minutes: z.array(
    z.strictObject({
      minute: z.string(),
      total: count,
      s2xx: count,
      s3xx: count,
      s4xx: count,
      s5xx: count,
    }),
  ),
});
export type PostTrafficRequest = z.infer<typeof PostTrafficRequestSchema>;

export interface PostTrafficResponse {
  /** Minutes added (0 for a duplicate). */
  accepted: number;
  /** The source (or this part of it, or this byte range) was stored before; nothing changed. */
  duplicate: boolean;
}

export type TrafficStep = "minute" | "hour";

export interface TrafficPoint {
  /** Start of the minute or hour, ISO 8601 UTC. */
  time: string;
  total: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
  /** Hour step only: minutes of the hour that have data (60 = complete). */
  minutes?: number;
}

/** Body of `GET /v1/apps/:app/traffic?from=&to=&step=`. Steps without data are absent, not zero. */
export interface TrafficSeries {
  app: string;
  step: TrafficStep;
  from: string;
  to: string;
  points: TrafficPoint[];
}

export interface TrafficCheckpointView {
  key: string;
  inode: number | null;
  /** Byte offset after the last line counted. */
  offset: number;
  path: string | null;
  updated_at: string;
}

/** Body of `GET /v1/apps/:app/traffic/checkpoint?key=`. */
export interface TrafficCheckpointResponse {
  checkpoint: TrafficCheckpointView | null;
}

/** The server rejects larger posts; clients send minutes in batches of at most this many. */
export const MAX_TRAFFIC_MINUTES_PER_POST = 10_000;
