// Helpers shared by the artifact tests (not used by the artifact code itself).
import assert from "node:assert/strict";

/*
 * Archives here are written block by block, independently of tar-format.ts,
 * so that hostile headers can say anything.
 */

export interface RawEntry {
  name: string;
  /** Typeflag character. @default "0" */
  type?: string;
  data?: Buffer | string;
  /** Size written in the header; defaults to the data length (a lie when set otherwise). */
  size?: number;
  mode?: number;
  linkname?: string;
  prefix?: string;
}

export function header(entry: RawEntry): Buffer {
  const block = Buffer.alloc(512);
  const data = Buffer.from(entry.data ?? "");
  const put = (text: string, offset: number, length: number) => {
    const bytes = Buffer.from(text);
    assert.ok(bytes.length <= length, `field too long: ${text}`);
    bytes.copy(block, offset);
  };
  const octal = (value: number, offset: number, length: number) =>
    put(`${value.toString(8).padStart(length - 1, "0")}\0`, offset, length);
  put(entry.name, 0, 100);
  octal(entry.mode ?? 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  const size = entry.size ?? data.length;
  if (size > 0o77777777777) {
    // GNU base-256: high bit set, big-endian value in the remaining bytes.
    block[124] = 0x80;
    block.writeUIntBE(size, 130, 6);
  } else octal(size, 124, 12);
  octal(0, 136, 12);
  block.write(entry.type ?? "0", 156, 1, "latin1");
  put(entry.linkname ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  put(entry.prefix ?? "", 345, 155);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return block;
}

function pad(length: number): Buffer {
  return Buffer.alloc((512 - (length % 512)) % 512);
}

export function rawTar(entries: RawEntry[], { end = true } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = Buffer.from(entry.data ?? "");
    parts.push(header(entry), data, pad(data.length));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(rest) + 1;
  while (String(length).length + Buffer.byteLength(rest) !== length) length++;
  return `${length}${rest}`;
}

export function pax(records: Record<string, string>): RawEntry {
  const body = Object.entries(records)
    .map(([key, value]) => paxRecord(key, value))
    .join("");
  return { name: "PaxHeader", type: "x", data: body };
}
