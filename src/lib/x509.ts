import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { isIP } from "node:net";

/**
 * The few X.509 certificates strata makes for itself (its CA and the control
 * plane's server certificate), DER-encoded by hand: ECDSA P-256 keys from
 * node:crypto, ecdsa-with-SHA256 signatures. Node parses and verifies them
 * with `crypto.X509Certificate` and TLS; nothing outside node:crypto is needed.
 */

const OID = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
};

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : n < 0x10000
          ? Buffer.from([0x82, n >> 8, n & 0xff])
          : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}
const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]) => tlv(0x31, Buffer.concat(parts));
const explicit = (n: number, body: Buffer) => tlv(0xa0 + n, body);
const octets = (body: Buffer) => tlv(0x04, body);
const bits = (body: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), body]));
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0]));
const utf8 = (text: string) => tlv(0x0c, Buffer.from(text, "utf8"));

function integer(bytes: Buffer): Buffer {
  let body = bytes;
  while (body.length > 1 && body[0] === 0 && (body[1]! & 0x80) === 0) body = body.subarray(1);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const value of rest) {
    const chunk = [value & 0x7f];
    for (let v = value >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** GeneralizedTime for any year (UTCTime only reaches 2049). */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return tlv(0x18, Buffer.from(`${iso}Z`, "ascii"));
}

const name = (commonName: string) => seq(set(seq(oid(OID.commonName), utf8(commonName))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

export interface CertificateSpec {
  subject: string;
  issuer: string;
  /** The certified key. */
  publicKey: KeyObject;
  /** The issuer's key (the subject's own for a self-signed CA). */
  signingKey: KeyObject;
  days: number;
  /** A CA may sign certificates; a server certificate may not. */
  ca: boolean;
  /** Server names: IP addresses and DNS names. */
  altNames?: string[];
}

/** A certificate in PEM. */
export function createCertificate(spec: CertificateSpec): string {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const now = Date.now();
  const extensions = spec.ca
    ? [
        extension(OID.basicConstraints, true, seq(bool(true))),
        // keyCertSign | cRLSign
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([1, 0x06]))),
      ]
    : [
        extension(OID.basicConstraints, true, seq()),
        // digitalSignature
        extension(OID.keyUsage, true, tlv(0x03, Buffer.from([7, 0x80]))),
        extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
        extension(
          OID.subjectAltName,
          false,
          seq(
            ...(spec.altNames ?? []).map((alt) =>
              isIP(alt) ? tlv(0x87, ipBytes(alt)) : tlv(0x82, Buffer.from(alt, "ascii")),
            ),
          ),
        ),
      ];
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    algorithm,
    name(spec.issuer),
    seq(time(new Date(now - 60_000)), time(new Date(now + spec.days * 86_400_000))),
    name(spec.subject),
    (spec.publicKey.type === "public" ? spec.publicKey : createPublicKey(spec.publicKey)).export({
      type: "spki",
      format: "der",
    }),
    explicit(3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, spec.signingKey);
  const der = seq(tbs, algorithm, bits(signature));
  const body = der.toString("base64").replace(/.{64}/g, "$&\n").trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  const [head, tail = ""] = ip.split("::") as [string, string?];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, "0"), "hex")));
}

/** Reads a PEM private key. */
export const privateKey = (pem: string): KeyObject => createPrivateKey(pem);
