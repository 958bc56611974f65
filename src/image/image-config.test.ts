import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "yaml";
import { ConfigError } from "../lib/errors.js";
import { DEFAULT_KEEP, DEFAULT_PROVISION_TIMEOUT_MS, parseImageConfig } from "./image-config.js";

describe("parseImageConfig", () => {
  let cwd = "";
  before(async () => {
    cwd = await mkdtemp(join(tmpdir(), "strata-image-config-"));
    await mkdir(join(cwd, "recipes", "web"), { recursive: true });
  });
  after(() => rm(cwd, { recursive: true, force: true }));

  const sections = (yaml: string) => parse(yaml) as Record<string, unknown>;

  test("defaults without sections", () => {
    assert.deepEqual(parseImageConfig({}, cwd), { keep: DEFAULT_KEEP, groups: {} });
  });

  test("reads groups and images, resolving recipes against cwd", () => {
    const config = parseImageConfig(
      sections(
        "groups:\n  web: { recipe: ./recipes/web, provision_timeout: 90s }\n  api:\nimages: { keep: 3 }\n",
      ),
      cwd,
    );
    assert.equal(config.keep, 3);
    assert.deepEqual(config.groups.web, {
      recipe: join(cwd, "recipes", "web"),
      provisionTimeoutMs: 90_000,
    });
    assert.deepEqual(config.groups.api, {
      recipe: null,
      provisionTimeoutMs: DEFAULT_PROVISION_TIMEOUT_MS,
    });
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.groups.web));
  });

  const bad: [string, string, string][] = [
    ["groups: { web: { recipe: ./recipes/none } }", "groups.web.recipe", "is not a folder"],
    ["groups: { web: { recipe: 3 } }", "groups.web.recipe", "must be a folder path"],
    ["groups: { web: { recipes: ./recipes/web } }", "groups.web.recipes", "unknown key"],
    ["groups: { Web: {} }", "groups.Web", "lowercase"],
    ["groups: { web: { provision_timeout: soon } }", "groups.web.provision_timeout", "duration"],
    ["groups: [web]", "groups", "must be a mapping"],
    ["images: { keep: 0 }", "images.keep", "from 1 to 1000"],
    ["images: { keep: two }", "images.keep", "must be an integer from 1 to 1000"],
    ["images: { keeps: 2 }", "images.keeps", "unknown key (did you mean keep?"],
    // The old grammar read a bare number as milliseconds.
    [
      "groups: { web: { provision_timeout: 600 } }",
      "groups.web.provision_timeout",
      'write "600ms"',
    ],
  ];
  for (const [yaml, key, problem] of bad) {
    test(`rejects ${yaml}, naming ${key}`, () => {
      assert.throws(
        () => parseImageConfig(sections(yaml), cwd),
        (err: unknown) =>
          err instanceof ConfigError && err.key === key && err.message.includes(problem),
      );
    });
  }
});
