import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { systemClock, type Clock } from "../../lib/clock.js";
import { StrataError, messageOf } from "../../lib/errors.js";
import { createDigest, isReleaseId } from "../digest.js";
import type { ArtifactPart, ArtifactStore } from "../store.js";
import { EMPTY_SHA256, presignGet, signHeaders, uriEncode, type Credentials } from "./sigv4.js";

export interface S3ArtifactStoreOptions {
  /** Base URL of the S3 API, e.g. `https://s3.eu-west-1.amazonaws.com` or Swift's `http://swift:8080`. */
  endpoint: string;
  /** Bucket holding the tarballs; `ensureBucket` creates it. */
  bucket: string;
  /** Region used in signatures (Swift s3api: its `location`). @default "us-east-1" */
  region?: string;
  credentials: Credentials;
  /** Prefix of every object key, e.g. `strata/`. @default "" */
  prefix?: string;
  /**
   * Bytes per part of a multipart upload; an artifact up to this size is one
   * PUT. S3 wants at least 5 MiB for every part but the last. @default 8 MiB
   */
  partSize?: number;
  /** Parts uploaded at once (memory: partSize times this, plus one). @default 4 */
  concurrency?: number;
  /** Life of a presigned GET URL handed to an agent. @default 900 (15 minutes) */
  presignSeconds?: number;
  /** Tries of one request on network errors and 5xx. @default 4 */
  attempts?: number;
  /** Signs with its time. @default systemClock */
  clock?: Clock;
}

export interface S3ArtifactStore extends ArtifactStore {
  /** Creates the bucket when missing. Idempotent; called once at start. */
  ensureBucket(): Promise<void>;
  /** A GET URL for `id` valid for `presignSeconds`, that needs no credentials. */
  presign(id: string): Promise<string>;
  /** The bytes `[start, end]` (inclusive; to the end when omitted) of a stored artifact; null when missing. */
  openRange(
    id: string,
    start: number,
    end?: number,
  ): Promise<{ stream: Readable; size: number } | null>;
}

const MiB = 1024 * 1024;

/**
 * Release tarballs in an S3 bucket (AWS S3, Ceph RGW, MinIO, OpenStack Swift
 * with s3api), signed with SigV4 over fetch. A put streams the upload in parts
 * while hashing it and completes the multipart upload only when the sha256
 * matches the id, so a bad or broken upload stores nothing; an artifact that
 * fits one part is a single PUT after the check. Downloads resume with a
 * ranged GET (If-Match on the ETag) when the connection breaks.
 */
export function createS3ArtifactStore(options: S3ArtifactStoreOptions): S3ArtifactStore {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const region = options.region ?? "us-east-1";
  const prefix = options.prefix ?? "";
  const partSize = options.partSize ?? 8 * MiB;
  const concurrency = options.concurrency ?? 4;
  const attempts = options.attempts ?? 4;
  const clock = options.clock ?? systemClock;
  const keyOf = (id: string) => `${prefix}sha256/${hexOf(id)}.tar.gz`;
  const partKeyOf = (id: string, part: ArtifactPart) => `${prefix}sha256/${hexOf(id)}.${part}`;
  const urlOf = (key: string | null) =>
    new URL(
      `${endpoint}/${uriEncode(options.bucket)}${key === null ? "" : `/${uriEncode(key, true)}`}`,
    );

  async function request(
    method: string,
    key: string | null,
    init: {
      query?: Record<string, string>;
      headers?: Record<string, string>;
      body?: Buffer | string;
      /** Statuses that are answers, not failures. */
      accept?: number[];
    } = {},
  ): Promise<Response> {
    const url = urlOf(key);
    const query = init.query ?? {};
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const body = init.body;
    const payloadHash =
      body === undefined ? EMPTY_SHA256 : createHash("sha256").update(body).digest("hex");
    const what = `[artifact] s3 ${method} ${key ?? options.bucket}`;
    for (let attempt = 1; ; attempt++) {
      const headers = signHeaders({
        method,
        url,
        query,
        headers: init.headers ?? {},
        payloadHash,
        region,
        credentials: options.credentials,
        at: new Date(clock.now()),
      });
      let res: Response;
      try {
        res = await fetch(url, { method, headers, body: body ?? null });
      } catch (err) {
        if (attempt < attempts) continue;
        throw new StrataError("unavailable", `${what}: ${messageOf(err)}`, { cause: err });
      }
      if (res.ok || init.accept?.includes(res.status)) return res;
      const text = await res.text();
      if (res.status >= 500 && attempt < attempts) continue;
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? "";
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
      throw new StrataError(
        res.status >= 500 ? "unavailable" : "internal",
        `${what}: HTTP ${res.status} ${code}: ${message}`,
      );
    }
  }

  async function head(key: string): Promise<{ size: number; etag: string } | null> {
    const res = await request("HEAD", key, { accept: [404] });
    if (res.status === 404) return null;
    return { size: Number(res.headers.get("content-length")), etag: res.headers.get("etag") ?? "" };
  }

  /** Uploads the parts of one object, `concurrency` at a time. */
  function multipart(key: string) {
    let uploadId: Promise<string> | null = null;
    const inFlight = new Set<Promise<void>>();
    const etags: string[] = [];
    let failed: unknown = null;
    const start = () =>
      (uploadId ??= request("POST", key, { query: { uploads: "" } }).then(async (res) => {
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(await res.text())?.[1];
        if (!id)
          throw new StrataError("internal", `[artifact] s3 ${key}: no UploadId in the answer`);
        return id;
      }));
    return {
      get started() {
        return uploadId !== null;
      },
      async add(part: Buffer): Promise<void> {
        if (failed) throw failed;
        const number = etags.length + 1;
        etags.push("");
        const upload = (async () => {
          const res = await request("PUT", key, {
            query: { partNumber: String(number), uploadId: await start() },
            body: part,
          });
          etags[number - 1] = res.headers.get("etag") ?? "";
        })().catch((err: unknown) => {
          failed ??= err;
        });
        inFlight.add(upload);
        void upload.finally(() => inFlight.delete(upload));
        while (inFlight.size >= concurrency) await Promise.race(inFlight);
        if (failed) throw failed;
      },
      async complete(): Promise<void> {
        await Promise.all(inFlight);
        if (failed) throw failed;
        const xml = `<CompleteMultipartUpload>${etags
          .map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`)
          .join("")}</CompleteMultipartUpload>`;
        const res = await request("POST", key, { query: { uploadId: await start() }, body: xml });
        // S3 may answer 200 and still report the failure in the body.
        const text = await res.text();
        if (text.includes("<Error>"))
          throw new StrataError(
            "unavailable",
            `[artifact] s3 complete ${key}: ${text.slice(0, 300)}`,
          );
      },
      async abort(): Promise<void> {
        if (!uploadId) return;
        await Promise.allSettled(inFlight);
        const id = await uploadId.catch(() => null);
        if (id)
          await request("DELETE", key, { query: { uploadId: id }, accept: [404] }).catch(() => {});
      },
    };
  }

  async function getRange(key: string, start: number, end: number | undefined, etag?: string) {
    const range = `bytes=${start}-${end ?? ""}`;
    const res = await request("GET", key, {
      headers: { range, ...(etag ? { "if-match": etag } : {}) },
      accept: [404, 416],
    });
    if (res.status === 404 || res.status === 416) {
      await res.body?.cancel();
      return null;
    }
    return res;
  }

  /** The body of `res`, continued with ranged GETs from where a broken connection stopped. */
  async function* resuming(res: Response, key: string, from: number, to: number, etag: string) {
    let offset = from;
    let current: Response | null = res;
    for (let resumes = 0; ; resumes++) {
      try {
        for await (const chunk of current!.body!) {
          offset += (chunk as Uint8Array).length;
          yield Buffer.from(chunk as Uint8Array);
        }
      } catch (err) {
        if (resumes >= attempts)
          throw new StrataError("unavailable", `[artifact] s3 GET ${key}: ${messageOf(err)}`, {
            cause: err,
          });
      }
      if (offset > to) return;
      current = await getRange(key, offset, to, etag);
      if (!current)
        throw new StrataError(
          "unavailable",
          `[artifact] s3 GET ${key}: gone while reading at ${offset}`,
        );
    }
  }

  async function openRange(id: string, start: number, end?: number) {
    return openKeyRange(keyOf(id), start, end);
  }

  async function openKeyRange(key: string, start: number, end?: number) {
    const res =
      start === 0 && end === undefined
        ? await request("GET", key, { accept: [404] })
        : await getRange(key, start, end);
    if (!res || res.status === 404) {
      await res?.body?.cancel();
      return null;
    }
    const length = Number(res.headers.get("content-length"));
    const total = Number(/\/(\d+)$/.exec(res.headers.get("content-range") ?? "")?.[1] ?? length);
    const last = end === undefined ? total - 1 : Math.min(end, total - 1);
    const stream = Readable.from(resuming(res, key, start, last, res.headers.get("etag") ?? ""), {
      objectMode: false,
    });
    return { stream, size: length };
  }

  return {
    async ensureBucket() {
      const res = await request("PUT", null, { accept: [409] });
      const text = await res.text();
      if (res.status === 409 && !/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(text))
        throw new StrataError(
          "conflict",
          `[artifact] s3 bucket ${options.bucket}: ${text.slice(0, 200)}`,
        );
    },

    async put(id, source) {
      const key = keyOf(id);
      const existing = await head(key);
      const digest = createDigest();
      let size = 0;
      let buffered: Buffer[] = [];
      let bufferedBytes = 0;
      const upload = existing ? null : multipart(key);
      const take = () => {
        const part = Buffer.concat(buffered, bufferedBytes);
        buffered = [];
        bufferedBytes = 0;
        return part;
      };
      try {
        for await (const chunk of source) {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
          digest.update(bytes);
          size += bytes.length;
          if (!upload) continue;
          buffered.push(bytes);
          bufferedBytes += bytes.length;
          while (bufferedBytes >= partSize) {
            const all = take();
            await upload.add(all.subarray(0, partSize));
            if (all.length > partSize) {
              buffered.push(all.subarray(partSize));
              bufferedBytes = all.length - partSize;
            }
          }
        }
        const got = digest.id();
        if (got !== id) {
          throw new StrataError(
            "checksum_mismatch",
            `[artifact] store: checksum mismatch for ${id} (got ${got})`,
          );
        }
        if (existing) return { size: existing.size };
        if (!upload!.started) {
          await request("PUT", key, {
            body: take(),
            headers: { "content-type": "application/gzip" },
          });
        } else {
          if (bufferedBytes > 0) await upload!.add(take());
          await upload!.complete();
        }
        return { size };
      } catch (err) {
        await upload?.abort();
        throw err;
      }
    },

    open: (id) => openRange(id, 0),
    openRange,

    has: async (id) => (await head(keyOf(id))) !== null,

    async putPart(id, part, bytes) {
      // One PUT: parts are smaller than the tarball, and S3 takes up to 5 GB that way.
      await request("PUT", partKeyOf(id, part), {
        body: bytes,
        headers: { "content-type": "application/octet-stream" },
      });
    },

    openPart: (id, part, range) => openKeyRange(partKeyOf(id, part), range?.start ?? 0, range?.end),

    async delete(id) {
      await request("DELETE", keyOf(id), { accept: [404] });
      for (const part of ["manifest", "index", "blobs"] as const) {
        await request("DELETE", partKeyOf(id, part), { accept: [404] });
      }
    },

    async presign(id) {
      return presignGet({
        url: urlOf(keyOf(id)),
        region,
        credentials: options.credentials,
        at: new Date(clock.now()),
        expiresSeconds: options.presignSeconds ?? 900,
      });
    },
  };
}

function hexOf(id: string): string {
  if (!isReleaseId(id)) {
    throw new StrataError(
      "bad_request",
      `[artifact] store: "${id}" is not a release id (sha256:<64 hex>)`,
    );
  }
  return id.slice("sha256:".length);
}
