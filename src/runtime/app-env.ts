import type { AppSpec } from "./supervisor.js";

/**
 * The environment an app's process gets on top of the agent's own (minus its
 * STRATA_* variables): the release's `env:`, the app's secrets, then what
 * strata sets, which neither may override. The supervisor's app and
 * `strata exec` both get exactly this.
 */
export function appEnv(app: AppSpec, secrets: Record<string, string>): Record<string, string> {
  return {
    ...app.definition.env,
    ...secrets,
    HOST: app.host,
    PORT: String(app.definition.port),
    STRATA_RELEASE_ID: app.releaseId,
    STRATA_RELEASE_VERSION: app.version,
  };
}
