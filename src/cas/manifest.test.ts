import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeManifest, parseManifest, type ManifestEntry } from "./manifest.js";

const SHA = "a".repeat(64);
const LIMITS = { maxBytes: 1000, maxEntries: 10 };
const lines = (...entries: unknown[]) =>
  Buffer.from(`strata-manifest-v1\n${entries.map((e) => JSON.stringify(e)).join("\n")}\n`);

describe("release manifests", () => {
  test("encode sorts by path; parse gives the entries back", () => {
    const entries: ManifestEntry[] = [
      { kind: "file", path: "lib/a.js", mode: 0o644, size: 3, sha256: SHA },
      { kind: "directory", path: "lib" },
      { kind: "symlink", path: "current", target: "lib/a.js" },
      { kind: "file", path: "bin", mode: 0o755, size: 0, sha256: SHA },
    ];
    const bytes = encodeManifest(entries);
    assert.equal(
      bytes.toString(),
      [
        "strata-manifest-v1",
        `["f","bin","0755",0,"${SHA}"]`,
        '["l","current","lib/a.js"]',
        '["d","lib"]',
        `["f","lib/a.js","0644",3,"${SHA}"]`,
        "",
      ].join("\n"),
    );
    assert.deepEqual(
      parseManifest(bytes, LIMITS).map((e) => e.path),
      ["bin", "current", "lib", "lib/a.js"],
    );
  });

  // Each row: the entries, and what the refusal must say. The agent applies
  // extraction's rules to a manifest, as it would to a tarball.
  const hostile: Array<[string, Buffer, RegExp]> = [
    ["a path with ..", lines(["f", "../x", "0644", 1, SHA]), /\.\./],
    ["an absolute path", lines(["f", "/etc/passwd", "0644", 1, SHA]), /absolute/],
    [
      "a file below a file",
      lines(["f", "a", "0644", 1, SHA], ["f", "a/b", "0644", 1, SHA]),
      /parent a/,
    ],
    ["a file below a symlink", lines(["l", "a", "."], ["f", "a/b", "0644", 1, SHA]), /parent a/],
    ["a file below an unlisted folder", lines(["f", "x/y", "0644", 1, SHA]), /parent x/],
    ["a symlink out of the tree", lines(["l", "up", "../../etc"]), /outside/],
    [
      "a symlink chain out of the tree",
      lines(["d", "d"], ["l", "d/l", ".."], ["l", "e", "d/l/.."]),
      /outside/,
    ],
    ["a duplicate", lines(["d", "a"], ["d", "a"]), /duplicate/],
    ["another mode", lines(["f", "a", "4755", 1, SHA]), /malformed/],
    ["a bad sha256", lines(["f", "a", "0644", 1, "xyz"]), /malformed/],
    ["a device", lines(["c", "a"]), /malformed/],
    ["an unsorted listing", lines(["d", "b"], ["d", "a"]), /canonical/],
    ["a non-canonical path", lines(["d", "a//b"]), /canonical/],
    ["no header", Buffer.from('["d","a"]\n'), /not a strata manifest/],
  ];
  for (const [name, bytes, reason] of hostile) {
    test(`refuses ${name}`, () => {
      assert.throws(
        () => parseManifest(bytes, LIMITS),
        (err: Error & { code?: string }) =>
          err.code === "unsafe_archive" && reason.test(err.message),
      );
    });
  }

  test("refuses more bytes or entries than the limits", () => {
    assert.throws(() => parseManifest(lines(["f", "a", "0644", 1001, SHA]), LIMITS), {
      code: "too_large",
    });
    const many = Array.from({ length: 11 }, (_, i) => ["d", `d${String(i).padStart(2, "0")}`]);
    assert.throws(() => parseManifest(lines(...many), LIMITS), { code: "too_large" });
  });
});
