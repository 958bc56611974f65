import type { Command } from "commander";
import { walk } from "./program.js";

/**
 * Shell completion scripts, generated from the commander tree at run time, so
 * they always match the installed strata: subcommands and options of the
 * command typed so far (global options everywhere).
 */
export type Shell = "bash" | "zsh";

/** Words to offer after each command path ("" is the root). */
function wordsByPath(root: Command): Map<string, string[]> {
  const global = root.options.map((o) => o.long).filter((x): x is string => Boolean(x));
  const table = new Map<string, string[]>();
  for (const cmd of walk(root)) {
    const path = pathBelowRoot(cmd);
    const subcommands = cmd.commands.map((c) => c.name());
    const options = cmd.options.map((o) => o.long).filter((x): x is string => Boolean(x));
    table.set(path, [
      ...subcommands,
      ...options,
      ...(cmd === root ? ["--version"] : global),
      "--help",
    ]);
  }
  return table;
}

function pathBelowRoot(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** A shell function `_strata_words PATH` that prints the words for PATH, or fails for an unknown one. */
function wordsFunction(root: Command): string {
  const cases = [...wordsByPath(root)].map(
    ([path, words]) => `    ${JSON.stringify(path)}) echo ${JSON.stringify(words.join(" "))} ;;`,
  );
  return [
    "_strata_words() {",
    '  case "$1" in',
    ...cases,
    "    *) return 1 ;;",
    "  esac",
    "}",
  ].join("\n");
}

export function completionScript(root: Command, shell: Shell): string {
  const words = wordsFunction(root);
  if (shell === "bash") {
    return `# strata completion for bash: source <(strata completion bash), or save it under
# /etc/bash_completion.d/strata
${words}
_strata() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmdpath="" next i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    next="\${cmdpath:+$cmdpath }$w"
    _strata_words "$next" >/dev/null && cmdpath=$next
  done
  COMPREPLY=($(compgen -W "$(_strata_words "$cmdpath")" -- "$cur"))
  [[ \${#COMPREPLY[@]} -eq 0 && $cur != -* ]] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _strata strata
`;
  }
  return `#compdef strata
# strata completion for zsh: save as _strata in a folder of $fpath (then compinit),
# or source <(strata completion zsh)
${words}
_strata() {
  local cmdpath="" next w i
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    next="\${cmdpath:+$cmdpath }$w"
    _strata_words "$next" >/dev/null && cmdpath=$next
  done
  local -a items
  items=(\${(z)"$(_strata_words "$cmdpath")"})
  compadd -- $items
  _files
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _strata "$@"; else compdef _strata strata; fi
`;
}
