import assert from "node:assert/strict";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCliBatch } from "../capture.js";
import { EXIT } from "../exit-codes.js";

const EXAMPLE = fileURLToPath(new URL("../../../examples/hello", import.meta.url));

// Defect 5 of issue 15: `strata build` packed and uploaded a folder whose strata.yaml was
// invalid or missing, exited 0 and used up the version; the error surfaced only at deploy.
describe("strata build checks the app's strata.yaml before packing (issue 15, defect 5)", () => {
  let dir = "";
  before(async () => (dir = await mkdtemp(join(tmpdir(), "strata-build-check-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  test("missing, an unknown key or a bad value: exit 2 naming the key, nothing uploaded", async () => {
    const variants: Record<string, string | null> = {
      missing: null,
      typo: 'start: "node server.mjs"\nprot: 8080\n',
      words: 'start: "node server.mjs"\nport: eighty\n',
    };
    for (const [name, yaml] of Object.entries(variants)) {
      await cp(EXAMPLE, join(dir, name), { recursive: true });
      if (yaml === null) await rm(join(dir, name, "strata.yaml"));
      else await writeFile(join(dir, name, "strata.yaml"), yaml);
    }
    // Nothing listens on this address: an attempted upload would exit 3, not 2.
    const env = { STRATA_SERVER: "http://127.50.0.1:9", STRATA_TOKEN: "t" };
    const build = (name: string) => ({
      args: ["build", join(dir, name), "--app", "hello", "--version", "1.0.0"],
      env,
    });
    const [missing, typo, words, valid] = await runCliBatch([
      build("missing"),
      build("typo"),
      build("words"),
      { args: ["build", EXAMPLE, "--app", "hello", "--version", "1.0.0"], env },
    ]);
    assert.equal(missing!.code, EXIT.USAGE);
    assert.match(missing!.stderr, /strata\.yaml is missing/);
    assert.equal(typo!.code, EXIT.USAGE);
    assert.match(typo!.stderr, /prot: unknown key/);
    assert.equal(words!.code, EXIT.USAGE);
    assert.match(words!.stderr, /port: /);
    for (const run of [missing, typo, words]) assert.doesNotMatch(run!.stderr, /pack|upload/);
    assert.equal(valid!.code, EXIT.UNAVAILABLE, "a valid folder gets as far as the upload");
  });
});
