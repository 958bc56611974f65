import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { StrataError } from "../lib/errors.js";
import { writeOnce } from "../lib/write-once.js";

/** AES-256-GCM: a 32-byte key, a fresh 12-byte nonce per value, a 16-byte tag (NIST SP 800-38D). */
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = "v1:";

/** Seals and opens secret values; `context` (app and key) is bound as associated data. */
export interface SecretBox {
  seal(value: string, context: string): string;
  /** Throws StrataError("internal") when the value was sealed under another key or context, or altered. */
  open(sealed: string, context: string): string;
}

/**
 * The secrets key in `path` (made at first start, 0600, beside release-signing-key.pem).
 * Replicas must share the file (docs/engines.md); two starting at once agree on one key.
 */
export async function ensureSecretBox(path: string): Promise<SecretBox> {
  return createSecretBox(await ensureKey(path));
}

async function ensureKey(path: string): Promise<Buffer> {
  const read = async () => {
    const key = Buffer.from((await readFile(path, "utf8")).trim(), "base64");
    if (key.length !== KEY_BYTES) {
      throw new StrataError(
        "invalid_config",
        `[secrets] ${path}: expected ${KEY_BYTES} bytes in base64`,
      );
    }
    return key;
  };
  try {
    return await read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  // Regression: a second process starting at once read the file empty ("expected 32 bytes").
  await writeOnce(path, randomBytes(KEY_BYTES).toString("base64") + "\n");
  return read();
}

export function createSecretBox(key: Buffer): SecretBox {
  return {
    seal(value, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      cipher.setAAD(Buffer.from(context, "utf8"));
      const data = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
      return VERSION + Buffer.concat([nonce, cipher.getAuthTag(), data]).toString("base64");
    },
    open(sealed, context) {
      const bytes = sealed.startsWith(VERSION)
        ? Buffer.from(sealed.slice(VERSION.length), "base64")
        : Buffer.alloc(0);
      if (bytes.length < NONCE_BYTES + TAG_BYTES) {
        throw new StrataError("internal", `[secrets] ${context}: not a sealed value`);
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES));
        decipher.setAAD(Buffer.from(context, "utf8"));
        decipher.setAuthTag(bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
        const data = bytes.subarray(NONCE_BYTES + TAG_BYTES);
        return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
      } catch (err) {
        throw new StrataError(
          "internal",
          `[secrets] ${context}: cannot open (another secrets key, or altered)`,
          { cause: err },
        );
      }
    },
  };
}
