import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { completionScript } from "./completion.js";
import { buildProgram } from "./program.js";

const has = (shell: string) => {
  try {
    execFileSync("sh", ["-c", `command -v ${shell}`]);
    return true;
  } catch {
    return false;
  }
};

/** Words the shell offers after `line` (the last word is the one being completed). */
async function complete(shell: "bash" | "zsh", line: string[]): Promise<string[]> {
  const script = completionScript(buildProgram(), shell);
  const quoted = line.map((w) => `'${w}'`).join(" ");
  const body =
    shell === "bash"
      ? `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${line.length - 1}; _strata; printf '%s\\n' "\${COMPREPLY[@]}"`
      : `compdef(){}; _files(){}; compadd(){ shift; print -rl -- "$@" }\n${script}\nwords=(${quoted}); CURRENT=${line.length}; _strata`;
  const { stdout } = await promisify(execFile)(shell, ["-c", body]);
  return stdout.split("\n").filter(Boolean);
}

test("bash completion offers the subcommands and options of the command typed so far", async () => {
  assert.ok((await complete("bash", ["strata", "dep"])).includes("deploy"));
  assert.deepEqual(await complete("bash", ["strata", "deployments", "s"]), ["show"]);
  const scale = await complete("bash", ["strata", "fleet", "scale", "--group", "web", "--"]);
  for (const w of ["--count", "--yes", "--json", "--server"]) assert.ok(scale.includes(w), w);
  assert.ok((await complete("bash", ["strata", "--v"])).includes("--version"));
});

test(
  "zsh completion offers the same words",
  { skip: has("zsh") ? false : "zsh is not installed (scripts/ci/shells.sh installs it in CI)" },
  async () => {
    const gc = await complete("zsh", ["strata", "images", "gc", "--d"]);
    for (const w of ["--dry-run", "--keep", "--json"]) assert.ok(gc.includes(w), w);
    assert.ok((await complete("zsh", ["strata", ""])).includes("deployments"));
    await promisify(execFile)("zsh", ["-n", "-c", completionScript(buildProgram(), "zsh")]);
  },
);
