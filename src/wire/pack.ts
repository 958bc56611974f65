import { z } from "zod";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");
/** A release holds at most 200,000 entries (the agent's extraction limit). */
const shaList = z.array(sha256Hex).max(200_000);

/**
 * Body of `POST /v1/releases/:id/pack`: the file contents (sha256 hex) an
 * agent's store lacks, as `want`, or as `except` (every content of the
 * release but these) when that list is shorter. The answer is a stream of
 * frames (src/cas/pack-stream.ts), each verified by the agent.
 */
export const PackRequestSchema = z
  .strictObject({ want: shaList.optional(), except: shaList.optional() })
  .refine((body) => (body.want === undefined) !== (body.except === undefined), {
    message: "give exactly one of want and except",
  });
export type PackRequest = z.infer<typeof PackRequestSchema>;

/** Most bytes of a pack request body (200,000 sha256s and their quotes). */
export const PACK_REQUEST_LIMIT = 16 * 1024 * 1024;
