import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AppDefinition } from "../config/app-definition.js";
import { StrataError, messageOf } from "../lib/errors.js";
import { readTail } from "../lib/file-tail.js";
import { readActivations, releaseDir, releaseDirName } from "../lib/server-root.js";
import type { StepReport } from "../wire/deployment.js";
import type { AppSpec, Supervisor } from "./supervisor.js";

/** Reads and validates the `strata.yaml` of an unpacked release. */
export async function loadDefinition(root: string, releaseId: string): Promise<AppDefinition> {
  const source = `${releaseDirName(releaseId)}/strata.yaml`;
  const text = await readFile(join(releaseDir(root, releaseId), "strata.yaml"), "utf8").catch(
    (err: unknown) => {
      throw new StrataError("invalid_config", `[agent] validate: ${source} is missing`, {
        cause: err,
      });
    },
  );
  // The parser (yaml, zod: a third of the agent's bundle) loads at the first deploy, not at boot.
  const { parseAppDefinition } = await import("../config/app-definition.js");
  return parseAppDefinition(text, source);
}

/** What the supervisor needs to run an unpacked release (at boot, or when rolling back). */
export async function loadAppSpec(root: string, releaseId: string, host: string): Promise<AppSpec> {
  const version = (await readActivations(root))[releaseId]?.version ?? "unknown";
  const definition = await loadDefinition(root, releaseId);
  return { releaseId, version, dir: releaseDir(root, releaseId), definition, host };
}

/** Lines of app.log a failed health check carries, and their bound in characters. */
const LOG_TAIL_LINES = 20;
const LOG_TAIL_CHARS = 2000;

/**
 * A health check that failed names how the app ended, if it did, and carries
 * the last lines of app.log (bounded), in the step's output and the error:
 * `ECONNREFUSED (31 tries)` alone sends the operator to the server's log.
 */
export async function explainUnhealthy(
  err: unknown,
  supervisor: Supervisor,
  root: string,
  entry: StepReport,
): Promise<StrataError> {
  const exit = supervisor.lastExit;
  const how = !exit
    ? ""
    : exit.error
      ? `; the app could not be started: ${exit.error}`
      : `; the app ${exit.signal ? `was killed by ${exit.signal}` : exit.code === null ? "exited" : `exited with code ${exit.code}`}` +
        (exit.count > 1 ? ` (${exit.count} times)` : "");
  const tail = await readTail(join(root, "app.log"), LOG_TAIL_LINES, LOG_TAIL_CHARS);
  if (tail) entry.output = tail;
  const log = tail ? `\nlast lines of app.log:\n${tail}` : "";
  return new StrataError("health_check_failed", `${messageOf(err)}${how}${log}`, { cause: err });
}
