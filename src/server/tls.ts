import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createCertificate, privateKey } from "../lib/x509.js";

/** What the control plane serves HTTPS with, and what clients and agents pin. */
export interface TlsMaterial {
  /** PEM of strata's own CA: agents pin it at join, the CLI trusts it. */
  ca: string;
  cert: string;
  key: string;
  /** `<data_dir>/tls/ca.pem`. */
  caFile: string;
}

const SERVER_DAYS = 397;
const RENEW_WITHIN_MS = 30 * 86_400_000;

/**
 * Makes strata's CA at first start (10 years, key 0600 in `<data_dir>/tls/`)
 * and a server certificate for `names` (IP addresses and DNS names), made
 * anew when a name is missing or it expires within 30 days. Idempotent.
 */
export async function ensureTls(dataDir: string, names: string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, "tls");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string) => join(dir, name);
  const read = (name: string) => readFile(file(name), "utf8").catch(() => null);
  const write = async (name: string, text: string, secret: boolean) => {
    await writeFile(file(name), text, { mode: secret ? 0o600 : 0o644 });
    if (secret) await chmod(file(name), 0o600);
  };

  let ca = await read("ca.pem");
  let caKey = await read("ca-key.pem");
  if (!ca || !caKey) {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    caKey = pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    ca = createCertificate({
      subject: "strata CA",
      issuer: "strata CA",
      publicKey: pair.publicKey,
      signingKey: pair.privateKey,
      days: 3650,
      ca: true,
    });
    await write("ca-key.pem", caKey, true);
    await write("ca.pem", ca, false);
  }

  let cert = await read("server.pem");
  let key = await read("server-key.pem");
  if (!cert || !key || !covers(cert, ca, names)) {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    key = pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    cert = createCertificate({
      subject: "strata control plane",
      issuer: "strata CA",
      publicKey: pair.publicKey,
      signingKey: privateKey(caKey),
      days: SERVER_DAYS,
      ca: false,
      altNames: [...new Set(names)],
    });
    await write("server-key.pem", key, true);
    await write("server.pem", cert, false);
  }
  return { ca, cert, key, caFile: file("ca.pem") };
}

function covers(certPem: string, caPem: string, names: string[]): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.verify(ca.publicKey)) return false;
    if (Date.parse(cert.validTo) - Date.now() < RENEW_WITHIN_MS) return false;
    return names.every((n) => (/^[\d.:a-f]+$/i.test(n) ? cert.checkIP(n) : cert.checkHost(n)));
  } catch {
    return false;
  }
}

/** Whether `host` is a loopback address or name (plain HTTP is allowed only there). */
export function isLoopback(host: string): boolean {
  return (
    host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1" || host === "[::1]"
  );
}
