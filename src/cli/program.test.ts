import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runCliBatch, runCliChild } from "./capture.js";
import { EXIT } from "./exit-codes.js";
import { buildProgram, VERSION, walk } from "./program.js";

// Nothing listens here: commands that get past parsing fail to connect (exit 3).
const NOWHERE = { STRATA_SERVER: "http://127.50.0.1:9", STRATA_TOKEN: "t" };

describe("strata command line", () => {
  test("an unknown option is named, with a suggestion, before a missing required option (issue 15, defect 9)", async () => {
    const run = await runCliChild(["fleet", "up", "--grup", "web"], NOWHERE);
    assert.equal(run.code, EXIT.USAGE);
    assert.match(run.stderr, /unknown option '--grup'/);
    assert.match(run.stderr, /Did you mean --group\?/);
    assert.doesNotMatch(run.stderr, /required option/);
    const far = await runCliChild(["deploy", "hello@1", "--zzzzzz"], NOWHERE);
    assert.match(far.stderr, /unknown option '--zzzzzz'/);
    const missing = await runCliChild(["fleet", "up"], NOWHERE);
    assert.match(missing.stderr, /required option '--group <group>' not specified/);
    assert.equal(missing.code, EXIT.USAGE);
  });

  test("exit codes: usage and invalid input 2, unreachable control plane 3, help 0 (issue 15, defect 10)", async () => {
    const cases: [string[], number][] = [
      [["fleet", "up", "--group", "web", "--count", "-3"], EXIT.USAGE],
      [["fleet", "up", "--group", "web", "--count", "two"], EXIT.USAGE],
      [["fleet", "scale", "--group", "web", "--count", "1.5"], EXIT.USAGE],
      [["nope"], EXIT.USAGE],
      [["deploy", "hello", "--group", "web"], EXIT.USAGE],
      [["deploy"], EXIT.USAGE],
      [["status"], EXIT.UNAVAILABLE],
      [["--help"], EXIT.OK],
      [["status", "--help"], EXIT.OK],
    ];
    const runs = await runCliBatch(cases.map(([args]) => ({ args, env: NOWHERE })));
    cases.forEach(([args, code], i) =>
      assert.equal(runs[i]!.code, code, `strata ${args.join(" ")}: ${runs[i]!.stderr}`),
    );
  });

  test("--version prints strata's version; build --version stays the release's (issue 15, defect 13)", async () => {
    for (const run of await runCliBatch([{ args: ["--version"] }, { args: ["-V"] }])) {
      assert.equal(run.code, EXIT.OK);
      assert.equal(run.stdout, `${VERSION}\n`);
    }
    const build = await runCliChild(
      ["build", "/nonexistent", "--app", "a", "--version", "1.0.0"],
      NOWHERE,
    );
    assert.notEqual(build.stdout, `${VERSION}\n`);
    assert.equal(build.code, EXIT.USAGE);
  });

  test("subcommand help shows the global options, and only the root's (issue 15, defect 13)", async () => {
    const run = await runCliChild(["deployments", "show", "--help"]);
    assert.equal(run.code, EXIT.OK);
    const global = run.stdout.slice(run.stdout.indexOf("Global Options:"));
    assert.match(global, /--server <url>/);
    assert.match(global, /--verbose/);
  });

  // Issue 15, defect 3: `deployments show ID --json` printed text because the parent `deployments`
  // had its own --json, and commander gives a flag to the first command that knows it.
  test("no command but the root has both options and subcommands (issue 15, defect 3)", () => {
    const root = buildProgram();
    const both = [...walk(root)]
      .filter((cmd) => cmd !== root && cmd.commands.length > 0 && cmd.options.length > 0)
      .map((cmd) => cmd.name());
    // `agent` hands its arguments to the agent's own parser; `agent install` declares its own options.
    assert.deepEqual(both, []);
  });
});
