import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { escapeBytes, escapeText } from "./escape.js";

describe("escapeBytes", () => {
  const cases: [string, number[] | string, string][] = [
    ["plain ASCII is kept", "GET / HTTP/1.1", "GET / HTTP/1.1"],
    ["valid UTF-8 is decoded", "café ✓ 🙂", "café ✓ 🙂"],
    ["an ESC sequence is escaped", [0x1b, 0x5b, 0x32, 0x4a], "\\x1b[2J"],
    ["tab, NUL and DEL", [0x09, 0x00, 0x7f], "\\t\\x00\\x7f"],
    ["a lone continuation byte", [0x61, 0x80, 0x62], "a\\x80b"],
    ["a truncated sequence", [0xe2, 0x9c], "\\xe2\\x9c"],
    ["an overlong NUL", [0xc0, 0x80], "\\xc0\\x80"],
    ["an encoded surrogate", [0xed, 0xa0, 0x80], "\\xed\\xa0\\x80"],
    ["a C1 control in UTF-8", [0xc2, 0x9b], "\\u{9b}"],
    ["a bidi override", "\u202eabc", "\\u{202e}abc"],
    ["0xff", [0xff, 0xfe], "\\xff\\xfe"],
  ];
  for (const [name, input, want] of cases) {
    test(name, () => {
      const buf = typeof input === "string" ? Buffer.from(input) : Buffer.from(input);
      assert.equal(escapeBytes(buf), want);
    });
  }
  test("escapes only [start, end)", () => {
    assert.equal(escapeBytes(Buffer.from("xx\x1byy"), 2, 3), "\\x1b");
  });
});

test("escapeText escapes controls in a decoded string", () => {
  assert.equal(escapeText("a\u0007b\u009bc\uFFFD"), "a\\x07b\\u{9b}c\uFFFD");
});
