import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { buildProgram } from "./program.js";
import { commandReference, withReference } from "./reference.js";

test("docs/cli.md's command reference matches every command's --help (run `npm run docs:cli`)", async () => {
  const doc = await readFile(new URL("../../docs/cli.md", import.meta.url), "utf8");
  const expected = withReference(doc, commandReference(buildProgram()));
  assert.ok(
    doc === expected,
    "docs/cli.md drifted from the commander tree: run `npm run docs:cli`",
  );
});
