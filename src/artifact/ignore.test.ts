import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createIgnoreMatcher } from "./ignore.js";

/** [patterns, path, isDir, ignored] */
const CASES: [string[], string, boolean, boolean][] = [
  // comments and blank lines
  [["# node_modules", ""], "node_modules", true, false],
  [["\\#notes"], "#notes", false, true],
  // an unanchored name matches at any depth, files and folders
  [["*.log"], "debug.log", false, true],
  [["*.log"], "a/b/debug.log", false, true],
  [["*.log"], "debug.log.txt", false, false],
  [["node_modules"], "web/node_modules", true, true],
  [["node_modules"], "web/node_modules/x/index.js", false, true],
  // trailing slash: folders only
  [["build/"], "build", true, true],
  [["build/"], "build", false, false],
  [["build/"], "src/build/out.js", false, true],
  // leading or middle slash anchors to the root
  [["/TODO"], "TODO", false, true],
  [["/TODO"], "docs/TODO", false, false],
  [["docs/*.md"], "docs/a.md", false, true],
  [["docs/*.md"], "x/docs/a.md", false, false],
  [["docs/*.md"], "docs/sub/a.md", false, false],
  // `*` and `?` never cross a slash
  [["a*z"], "a/z", false, false],
  [["a?c"], "abc", false, true],
  [["a?c"], "a/c", false, false],
  // `**`
  [["**/cache"], "cache", true, true],
  [["**/cache"], "x/y/cache", true, true],
  [["logs/**"], "logs/a/b.txt", false, true],
  [["logs/**"], "logs", true, false],
  [["a/**/b"], "a/b", false, true],
  [["a/**/b"], "a/x/y/b", false, true],
  [["a/**/b"], "ab", false, false],
  // classes
  [["[Tt]emp"], "temp", true, true],
  [["[Tt]emp"], "Temp", true, true],
  [["[!a]bc"], "abc", false, false],
  [["[!a]bc"], "xbc", false, true],
  [["[0-9].txt"], "7.txt", false, true],
  [["[0-9].txt"], "x.txt", false, false],
  // negation: the last match wins
  [["*.env", "!example.env"], "example.env", false, false],
  [["*.env", "!example.env"], "prod.env", false, true],
  [["!example.env", "*.env"], "example.env", false, true],
  // a file inside an ignored folder cannot be re-included
  [["secrets/", "!secrets/public.txt"], "secrets/public.txt", false, true],
  // but ignoring the contents, not the folder, can
  [["secrets/*", "!secrets/public.txt"], "secrets/public.txt", false, false],
  [["secrets/*", "!secrets/public.txt"], "secrets/key.pem", false, true],
  // escapes and whitespace
  [["\\!important"], "!important", false, true],
  [["trailing   "], "trailing", false, true],
  [["sp\\ "], "sp ", false, true],
  [["*.tmp\r"], "x.tmp", false, true],
  [["a.b"], "axb", false, false],
  // several lines in one element (a whole file)
  [["# ignore file\n*.o\n\n!keep.o\n"], "x.o", false, true],
  [["# ignore file\n*.o\n\n!keep.o\n"], "keep.o", false, false],
];

describe("createIgnoreMatcher", () => {
  for (const [patterns, path, isDir, expected] of CASES) {
    test(`${JSON.stringify(patterns)} ${expected ? "ignores" : "keeps"} ${path}${isDir ? "/" : ""}`, () => {
      assert.equal(createIgnoreMatcher(patterns)(path, isDir), expected);
    });
  }

  test("no patterns ignore nothing", () => {
    assert.equal(createIgnoreMatcher([])("anything", false), false);
  });
});
