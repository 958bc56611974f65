/**
 * The subset of POSIX ustar/pax (and GNU long names, on read) that strata
 * writes and accepts. Field offsets are from POSIX.1-2001 `ustar Interchange
 * Format`; one header is one 512-byte block.
 */

export const BLOCK_SIZE = 512;
/** Size of a tar record; archives end padded to a whole record (POSIX default blocking factor 20). */
export const RECORD_SIZE = 10240;
/** Largest size an 11-digit octal field holds (8 GiB - 1); larger sizes go in a pax record. */
const MAX_OCTAL_SIZE = 0o77777777777;

const NAME = { offset: 0, length: 100 };
const MODE = { offset: 100, length: 8 };
const UID = { offset: 108, length: 8 };
const GID = { offset: 116, length: 8 };
const SIZE = { offset: 124, length: 12 };
const MTIME = { offset: 136, length: 12 };
const CHECKSUM = { offset: 148, length: 8 };
const TYPEFLAG = 156;
const LINKNAME = { offset: 157, length: 100 };
const MAGIC = { offset: 257, length: 6 };
const VERSION = { offset: 263, length: 2 };
const PREFIX = { offset: 345, length: 155 };

const PAX_HEADER_NAME = "././@PaxHeader";

export type WriteEntryType = "file" | "directory" | "symlink";

export interface WriteEntry {
  /** Archive path, `/`-separated, no trailing slash (added for directories). */
  path: string;
  type: WriteEntryType;
  mode: number;
  size: number;
  linkpath?: string;
}

/** Bytes that pad `size` up to a whole number of `unit`s (blocks by default). */
export function paddingFor(size: number, unit = BLOCK_SIZE): number {
  const rest = size % unit;
  return rest === 0 ? 0 : unit - rest;
}

/**
 * Encodes the header block(s) for one entry: a pax extended header first when
 * the path, link target or size do not fit ustar. Every field that could vary
 * between machines (mtime, uid, gid, uname, gname) is written as zero/empty.
 */
export function encodeHeader(entry: WriteEntry): Buffer {
  const path = entry.type === "directory" ? `${entry.path}/` : entry.path;
  const pax: [string, string][] = [];

  const split = splitUstarPath(path);
  if (split === null) pax.push(["path", path]);
  const linkBytes = Buffer.byteLength(entry.linkpath ?? "");
  if (linkBytes > LINKNAME.length) pax.push(["linkpath", entry.linkpath ?? ""]);
  if (entry.size > MAX_OCTAL_SIZE) pax.push(["size", String(entry.size)]);

  const block = Buffer.alloc(BLOCK_SIZE);
  const [prefix, name] = split ?? ["", truncateUtf8(path, NAME.length)];
  block.write(name, NAME.offset, NAME.length, "utf8");
  writeOctal(block, MODE, entry.mode);
  writeOctal(block, UID, 0);
  writeOctal(block, GID, 0);
  writeOctal(block, SIZE, entry.size > MAX_OCTAL_SIZE ? 0 : entry.size);
  writeOctal(block, MTIME, 0);
  block[TYPEFLAG] = TYPEFLAGS[entry.type].charCodeAt(0);
  // A long target is in the pax record; the truncated copy here is for readers
  // (node-tar) that refuse a link header with an empty linkname.
  if (entry.linkpath !== undefined) {
    block.write(
      truncateUtf8(entry.linkpath, LINKNAME.length),
      LINKNAME.offset,
      LINKNAME.length,
      "utf8",
    );
  }
  block.write("ustar\0", MAGIC.offset, MAGIC.length, "latin1");
  block.write("00", VERSION.offset, VERSION.length, "latin1");
  block.write(prefix, PREFIX.offset, PREFIX.length, "utf8");
  writeChecksum(block);

  if (pax.length === 0) return block;
  return Buffer.concat([encodePaxHeader(pax), block]);
}

const TYPEFLAGS: Record<WriteEntryType, string> = { file: "0", directory: "5", symlink: "2" };

/** Splits into ustar (prefix, name) by bytes, or null when the path needs a pax record. */
function splitUstarPath(path: string): [string, string] | null {
  const bytes = Buffer.byteLength(path);
  if (bytes <= NAME.length) return ["", path];
  if (bytes > NAME.length + 1 + PREFIX.length) return null;
  // The split slash must leave a non-empty name; directories end in "/", so skip that one.
  for (let i = path.length - 2; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(name) > NAME.length) return null;
    if (Buffer.byteLength(prefix) <= PREFIX.length) return [prefix, name];
  }
  return null;
}

function encodePaxHeader(records: [string, string][]): Buffer {
  const body = Buffer.concat(records.map(([key, value]) => Buffer.from(paxRecord(key, value))));
  const header = Buffer.alloc(BLOCK_SIZE);
  header.write(PAX_HEADER_NAME, NAME.offset, NAME.length, "latin1");
  writeOctal(header, MODE, 0o644);
  writeOctal(header, UID, 0);
  writeOctal(header, GID, 0);
  writeOctal(header, SIZE, body.length);
  writeOctal(header, MTIME, 0);
  header[TYPEFLAG] = "x".charCodeAt(0);
  header.write("ustar\0", MAGIC.offset, MAGIC.length, "latin1");
  header.write("00", VERSION.offset, VERSION.length, "latin1");
  writeChecksum(header);
  return Buffer.concat([header, body, Buffer.alloc(paddingFor(body.length))]);
}

/** One pax record, "<length> <key>=<value>\n", where length counts its own digits. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restBytes = Buffer.byteLength(rest);
  let length = restBytes + String(restBytes).length;
  if (String(length).length + restBytes !== length) length = restBytes + String(length).length;
  return `${length}${rest}`;
}

function truncateUtf8(value: string, maxBytes: number): string {
  const bytes = Buffer.from(value);
  return bytes.length <= maxBytes ? value : bytes.subarray(0, maxBytes).toString("utf8");
}

function writeOctal(block: Buffer, field: { offset: number; length: number }, value: number) {
  const digits = value.toString(8).padStart(field.length - 1, "0");
  block.write(`${digits}\0`, field.offset, field.length, "latin1");
}

function writeChecksum(block: Buffer) {
  block.fill(0x20, CHECKSUM.offset, CHECKSUM.offset + CHECKSUM.length);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, CHECKSUM.offset, CHECKSUM.length, "latin1");
}

/** A header as read, before pax/GNU long-name overrides are applied. */
export interface ReadHeader {
  path: string;
  linkpath: string;
  /** Raw typeflag character; "0" also for the NUL typeflag of old archives. */
  typeflag: string;
  mode: number;
  size: number;
}

/** Thrown for a malformed header; the caller turns it into an `unsafe_archive` error. */
export class TarFormatError extends Error {}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function decodeHeader(block: Buffer): ReadHeader {
  if (!checksumMatches(block)) throw new TarFormatError("bad header checksum");
  const magic = block.toString("latin1", MAGIC.offset, MAGIC.offset + MAGIC.length);
  const name = readString(block, NAME);
  // Only POSIX ustar has a prefix field; old GNU headers keep other data there.
  const prefix = magic === "ustar\0" ? readString(block, PREFIX) : "";
  const typeByte = block[TYPEFLAG] ?? 0;
  return {
    path: prefix === "" ? name : `${prefix}/${name}`,
    linkpath: readString(block, LINKNAME),
    typeflag: typeByte === 0 ? "0" : String.fromCharCode(typeByte),
    mode: readNumber(block, MODE, "mode"),
    size: readNumber(block, SIZE, "size"),
  };
}

function checksumMatches(block: Buffer): boolean {
  let stored: number;
  try {
    stored = readNumber(block, CHECKSUM, "checksum");
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const inField = i >= CHECKSUM.offset && i < CHECKSUM.offset + CHECKSUM.length;
    const byte = inField ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  // Some historic tars summed signed bytes; both are accepted (POSIX: unsigned).
  return stored === unsigned || stored === signed;
}

function readString(block: Buffer, field: { offset: number; length: number }): string {
  const raw = block.subarray(field.offset, field.offset + field.length);
  const end = raw.indexOf(0);
  return decodeUtf8(end === -1 ? raw : raw.subarray(0, end));
}

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new TarFormatError("name is not valid UTF-8");
  }
}

/** Octal (space/NUL terminated) or GNU base-256 (high bit of the first byte set). */
function readNumber(
  block: Buffer,
  field: { offset: number; length: number },
  what: string,
): number {
  const raw = block.subarray(field.offset, field.offset + field.length);
  const first = raw[0] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`negative ${what}`);
    let value = first & 0x7f;
    for (let i = 1; i < raw.length; i++) value = value * 256 + (raw[i] ?? 0);
    if (!Number.isSafeInteger(value)) throw new TarFormatError(`${what} out of range`);
    return value;
  }
  const text = raw
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`malformed ${what} field`);
  const value = parseInt(text, 8);
  if (!Number.isSafeInteger(value)) throw new TarFormatError(`${what} out of range`);
  return value;
}

/** Parses a pax extended header body into its records (later records win). */
export function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < body.length) {
    if (body[offset] === 0) break;
    const space = body.indexOf(0x20, offset);
    if (space === -1) throw new TarFormatError("malformed pax record");
    const lengthText = body.toString("latin1", offset, space);
    if (!/^[0-9]+$/.test(lengthText)) throw new TarFormatError("malformed pax record length");
    const length = Number(lengthText);
    const end = offset + length;
    if (length <= space - offset + 1 || end > body.length || body[end - 1] !== 0x0a) {
      throw new TarFormatError("malformed pax record length");
    }
    const record = body.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw new TarFormatError("malformed pax record");
    records.set(decodeUtf8(record.subarray(0, equals)), decodeUtf8(record.subarray(equals + 1)));
    offset = end;
  }
  return records;
}
