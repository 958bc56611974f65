import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { formattedConfigReference } from "./reference.js";

test("docs/config.md is the reference generated from the schema (run `npm run docs:config`)", async () => {
  const kept = await readFile("docs/config.md", "utf8");
  assert.ok(
    kept === (await formattedConfigReference()),
    "docs/config.md is out of date: run `npm run docs:config` and commit the result",
  );
});
