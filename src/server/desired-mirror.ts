import type { Coordinator } from "../coord/coordinator.js";
import type { Store } from "../store/store.js";

/**
 * Bridge until desired state is read only through the Coordinator (issue 12's
 * first item, in progress on the lead's branch): the fleet and the deployer
 * still read `desired_release` from the servers table, so every change an
 * external coordinator (etcd) makes is copied there too. Delete with that seam.
 */
export function mirrorDesired<C extends Coordinator>(coordinator: C, store: Store): C {
  const copy = async <S extends { generation: number; release: { id: string } | null }>(
    server: string,
    state: S,
  ): Promise<S> => {
    await store.servers.update(server, {
      desired_release: state.release?.id ?? null,
      desired_generation: state.generation,
    });
    return state;
  };
  // The coordinators are plain objects of functions: a spread keeps every method.
  return {
    ...coordinator,
    setDesired: async (server, release, options) =>
      copy(server, await coordinator.setDesired(server, release, options)),
  } satisfies Coordinator as C;
}
