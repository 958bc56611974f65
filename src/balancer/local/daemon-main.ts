import { parseArgs } from "node:util";
import { runBalancerDaemon } from "./daemon.js";

/**
 * `strata-balancer --dir DATA_DIR --host 127.0.0.1`: the local load balancer
 * as its own process (bundled and started by the control plane). Stops on
 * SIGINT/SIGTERM or `POST /shutdown` from the control plane.
 */
const { values } = parseArgs({
  options: { dir: { type: "string" }, host: { type: "string", default: "127.0.0.1" } },
});
if (!values.dir) {
  process.stderr.write("[balancer] --dir is required\n");
  process.exit(2);
}
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
process.once("SIGTERM", () => controller.abort());
await runBalancerDaemon({ dir: values.dir, host: values.host!, signal: controller.signal });
