import { ArtifactsConfigSchema, type ArtifactsConfig } from "../artifact/artifact-config.js";
import { CoordinationConfigSchema, type CoordinationConfig } from "../coord/coordination-config.js";
import type { Cluster } from "../coord/coordinator.js";
import { lead } from "../coord/leadership.js";
import type { Deployer } from "../deploy/deployer.js";
import { parseSection } from "../lib/config-section.js";
import { messageOf } from "../lib/errors.js";
import { StateConfigSchema, type StateConfig } from "../store/state-config.js";

/** The engine sections of strata.yaml; each absent one means its embedded default. */
export interface EnginesConfig {
  state: StateConfig | undefined;
  coordination: CoordinationConfig | undefined;
  artifacts: ArtifactsConfig | undefined;
}

/** Validates all three before anything is built: an invalid config never half-applies. */
export function parseEngines(sections: Readonly<Record<string, unknown>>): EnginesConfig {
  return {
    state: parseSection(StateConfigSchema, sections.state, "state"),
    coordination: parseSection(CoordinationConfigSchema, sections.coordination, "coordination"),
    artifacts: parseSection(ArtifactsConfigSchema, sections.artifacts, "artifacts"),
  };
}

type Work = () => Promise<() => Promise<void>>;

/**
 * Runs the schedulers on the one replica that leads `scheduler`: `work`
 * (daily forecasts), and a sweep that hands every running
 * deployment whose lock has lapsed (its replica died) to `deployer.recover`.
 */
export function leadSchedulers(cluster: Cluster, owner: string, deployer: Deployer, extra: Work[]) {
  const stop = new AbortController();
  const work: Work[] = [
    async () => {
      const sweep = () =>
        deployer.recover().catch((err: unknown) => {
          console.error(`[server] taking over deployments: ${messageOf(err)}`);
        });
      await sweep();
      const timer = setInterval(sweep, 5000);
      return async () => clearInterval(timer);
    },
    ...extra,
  ];
  const running = lead({
    cluster,
    name: "scheduler",
    owner,
    signal: stop.signal,
    start: async () => {
      const stops = await Promise.all(work.map((w) => w()));
      return async () => void (await Promise.all(stops.map((s) => s())));
    },
  });
  return {
    /** Stops leading (the next replica in line takes over at once). */
    async stop() {
      stop.abort();
      await running;
    },
  };
}
