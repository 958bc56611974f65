// Writes the command reference in docs/cli.md from the commander tree (npm run docs:cli).
import { readFile, writeFile } from "node:fs/promises";
import { buildProgram } from "../src/cli/program.js";
import { commandReference, withReference } from "../src/cli/reference.js";

const path = new URL("../docs/cli.md", import.meta.url);
const doc = await readFile(path, "utf8");
await writeFile(path, withReference(doc, commandReference(buildProgram())));
console.log("docs/cli.md: command reference regenerated");
