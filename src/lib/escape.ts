/**
 * Safe-to-print forms of untrusted text (samples of bad input lines), so that
 * a binary file cannot write escape sequences or raw bytes to a terminal.
 * C0 and C1 controls, DEL, and the bidirectional overrides become `\xNN` or
 * `\u{NNNN}`; bytes that are not valid UTF-8 become `\xNN`. A backslash is
 * left as it is: access logs already carry `\x22`-style escapes of their own.
 */

/** Escapes the bytes [start, end) of `buf`, decoding UTF-8 where it is valid. */
export function escapeBytes(buf: Uint8Array, start = 0, end = buf.length): string {
  let out = "";
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    if (b < 0x80) {
      out += escapeCodePoint(b);
      i++;
      continue;
    }
    const length = utf8Length(buf, i, end);
    if (length === 0) {
      out += hexByte(b);
      i++;
      continue;
    }
    let cp = b & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) cp = (cp << 6) | (buf[i + k]! & 0x3f);
    out += escapeCodePoint(cp);
    i += length;
  }
  return out;
}

/** Escapes a decoded string the same way (U+FFFD from earlier decoding stays as it is). */
export function escapeText(text: string): string {
  let out = "";
  for (const ch of text) out += escapeCodePoint(ch.codePointAt(0)!);
  return out;
}

function escapeCodePoint(cp: number): string {
  if (cp < 0x20 || cp === 0x7f) {
    if (cp === 0x09) return "\\t";
    return hexByte(cp);
  }
  if (cp >= 0x80 && cp <= 0x9f) return `\\u{${cp.toString(16)}}`;
  // Bidi embeddings, overrides and isolates reorder what follows on a terminal.
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
    return `\\u{${cp.toString(16)}}`;
  }
  return String.fromCodePoint(cp);
}

function hexByte(b: number): string {
  return `\\x${b.toString(16).padStart(2, "0")}`;
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
function utf8Length(buf: Uint8Array, i: number, end: number): number {
  const b0 = buf[i]!;
  let length: number;
  let min2 = 0x80;
  let max2 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 === 0xe0) min2 = 0xa0;
    if (b0 === 0xed) max2 = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 === 0xf0) min2 = 0x90;
    if (b0 === 0xf4) max2 = 0x8f;
  } else return 0;
  if (i + length > end) return 0;
  const b1 = buf[i + 1]!;
  if (b1 < min2 || b1 > max2) return 0;
  for (let k = 2; k < length; k++) {
    const b = buf[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return length;
}
