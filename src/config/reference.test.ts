import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { z } from "zod";
import { duration, oneOf } from "./fields.js";
import { formattedConfigReference, renderConfigReference } from "./reference.js";
import { SECTIONS } from "./schema.js";

test("docs/config.md is the reference generated from the schema (run `npm run docs:config`)", async () => {
  const kept = await readFile("docs/config.md", "utf8");
  assert.ok(
    kept === (await formattedConfigReference()),
    "docs/config.md is out of date: run `npm run docs:config` and commit the result",
  );
  assert.ok(!kept.includes("(not described yet)"), "every key of docs/config.md has a description");
});

test("a section written with plain zod still lists every key, its type and default", () => {
  const scaling = z.record(
    z.string(),
    z.strictObject({
      lead_time: z.union([z.literal("auto"), duration({ default: "10m", description: "" })]),
      mode: oneOf(["off", "on"]).prefault("off"),
      min: z.number().describe("Fewest servers."),
    }),
  );
  const lines = renderConfigReference({ ...SECTIONS, scaling })
    .split("\n")
    .filter((line) => line.startsWith("| `scaling."));
  assert.deepEqual(lines, [
    "| `scaling.<name>.lead_time` | `auto` or duration | none | (not described yet) |",
    "| `scaling.<name>.mode` | off \\| on | `off` | (not described yet) |",
    "| `scaling.<name>.min` | number | none | Fewest servers. |",
  ]);
});
