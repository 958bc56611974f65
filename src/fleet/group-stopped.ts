import type { Coordinator } from "../coord/coordinator.js";
import type { ServerRecord, Store } from "../store/store.js";

/**
 * Whether a group's app is stopped (`strata app stop`, until `strata app
 * start`): one of its `servers` is asked to keep its app stopped, read in one
 * batch. The deployer refuses new releases then.
 */
export async function isGroupStopped(
  coordinator: Coordinator,
  servers: ServerRecord[],
): Promise<boolean> {
  const states = await coordinator.desiredMany(servers.map((s) => s.name));
  return states.some((s) => s.stopped === true);
}

/**
 * Whether a server that joins `group` must keep its app stopped, from one read: the
 * group's newest deployment is a stop (only `strata app start` may follow one: deploys and
 * restarts are refused meanwhile). A join then costs the same in a group of 5,000 servers
 * as in one of 5, where `isGroupStopped` reads every server's desired state.
 */
export async function joinsStopped(store: Store, group: string): Promise<boolean> {
  const [latest] = await store.deployments.list({ group, limit: 1 });
  return latest?.kind === "stop";
}
