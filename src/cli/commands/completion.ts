import type { Command } from "commander";
import { StrataError } from "../../lib/errors.js";
import { completionScript, type Shell } from "../completion.js";

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script: source <(strata completion bash)")
    .argument("<shell>", "bash or zsh")
    .action((shell: string) => {
      if (shell !== "bash" && shell !== "zsh")
        throw new StrataError("bad_request", `[cli] completion: "${shell}" is not bash or zsh`);
      process.stdout.write(completionScript(program, shell as Shell));
    });
}
