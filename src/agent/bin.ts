// The agent's executable: the file the local provider bundles (src/provider/local/agent-bundle.ts).
// The app starts from `current` first; the agent's own modules load while it comes up.
import { startEarly } from "../runtime/early-boot.js";

const argv = process.argv.slice(2);
const early = await startEarly(argv, process.env).catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1); // the root was never completed: nothing of it is to be used
});
const { main } = await import("./main.js");
try {
  process.exitCode = await main(argv, process.env, early);
} finally {
  await early?.stop(); // main refused the flags, or run() has stopped it already
}
