import type { Coordinator } from "../coord/coordinator.js";
import type { Store } from "../store/store.js";

/**
 * Whether the app of `group` is stopped (`strata app stop`, until `strata app
 * start`): some server of the group is asked to keep its app stopped. The
 * deployer refuses new releases then, and a server that joins stays stopped.
 * `except` leaves one server out (the one joining).
 */
export async function isGroupStopped(
  parts: { store: Store; coordinator: Coordinator },
  group: string,
  except?: string,
): Promise<boolean> {
  const servers = (await parts.store.servers.list(group)).filter((s) => s.name !== except);
  const states = await Promise.all(servers.map((s) => parts.coordinator.desired(s.name)));
  return states.some((s) => s.stopped === true);
}
