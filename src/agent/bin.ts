// The agent's executable: the file the local provider bundles (src/provider/local/agent-bundle.ts).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2), process.env);
