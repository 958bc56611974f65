import { createHash, createHmac } from "node:crypto";

/**
 * AWS Signature Version 4 for S3, as documented in "Authenticating Requests
 * (AWS Signature Version 4)" of the Amazon S3 API reference: header signing
 * for requests, query-string signing for presigned URLs. Path-style URLs only
 * (`<endpoint>/<bucket>/<key>`), which every S3-compatible store accepts.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) only. */
  sessionToken?: string;
}

export const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and `/` in paths). */
export function uriEncode(value: string, keepSlash = false): string {
  const encoded = encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return keepSlash ? encoded.replace(/%2F/g, "/") : encoded;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

function sha256Hex(data: string): string {
  return createHash("sha256").update(data, "utf8").digest("hex");
}

/** `20240301T120000Z` and `20240301` of a time. */
function stamps(at: Date): { amzDate: string; day: string } {
  const amzDate = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  return { amzDate, day: amzDate.slice(0, 8) };
}

function canonicalQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((k) => `${uriEncode(k)}=${uriEncode(query[k]!)}`)
    .join("&");
}

interface SignInput {
  method: string;
  url: URL;
  /** Query parameters (also those of the URL are ignored: pass them here). */
  query: Record<string, string>;
  /** Headers to sign, lower-case names; `host` is added. */
  headers: Record<string, string>;
  payloadHash: string;
  region: string;
  credentials: Credentials;
  at: Date;
}

function signature(
  input: SignInput,
  amzDate: string,
  day: string,
): { signed: string; sig: string } {
  const headers: Record<string, string> = { ...input.headers, host: input.url.host };
  const names = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names
    .map((n) => `${n}:${String(lower[n]).trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const signed = names.join(";");
  const canonical = [
    input.method,
    uriEncode(decodeURIComponent(input.url.pathname), true),
    canonicalQuery(input.query),
    canonicalHeaders,
    signed,
    input.payloadHash,
  ].join("\n");
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  let key = hmac(`AWS4${input.credentials.secretAccessKey}`, day);
  key = hmac(key, input.region);
  key = hmac(key, "s3");
  key = hmac(key, "aws4_request");
  return { signed, sig: createHmac("sha256", key).update(toSign, "utf8").digest("hex") };
}

/** Headers (with Authorization) for one request. */
export function signHeaders(
  input: Omit<SignInput, "headers"> & { headers?: Record<string, string> },
): Record<string, string> {
  const { amzDate, day } = stamps(input.at);
  const headers: Record<string, string> = {
    ...input.headers,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": input.payloadHash,
    ...(input.credentials.sessionToken
      ? { "x-amz-security-token": input.credentials.sessionToken }
      : {}),
  };
  const { signed, sig } = signature({ ...input, headers }, amzDate, day);
  const credential = `${input.credentials.accessKeyId}/${day}/${input.region}/s3/aws4_request`;
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=${signed}, Signature=${sig}`,
  };
}

/** A GET URL anyone may use until it expires (at most 7 days, S3's limit), without credentials. */
export function presignGet(input: {
  url: URL;
  region: string;
  credentials: Credentials;
  at: Date;
  expiresSeconds: number;
}): string {
  const { amzDate, day } = stamps(input.at);
  const query: Record<string, string> = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${input.credentials.accessKeyId}/${day}/${input.region}/s3/aws4_request`,
    "X-Amz-Date": amzDate,
    "X-Amz-Expires": String(Math.min(604_800, Math.max(1, Math.floor(input.expiresSeconds)))),
    "X-Amz-SignedHeaders": "host",
    ...(input.credentials.sessionToken
      ? { "X-Amz-Security-Token": input.credentials.sessionToken }
      : {}),
  };
  const { sig } = signature(
    {
      method: "GET",
      url: input.url,
      query,
      headers: {},
      payloadHash: UNSIGNED_PAYLOAD,
      region: input.region,
      credentials: input.credentials,
      at: input.at,
    },
    amzDate,
    day,
  );
  return `${input.url.origin}${input.url.pathname}?${canonicalQuery(query)}&X-Amz-Signature=${sig}`;
}
