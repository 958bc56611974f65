#!/usr/bin/env node
// Entry point of the `strata` command: Node 20 cannot strip types, so tsx loads the TypeScript sources.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
