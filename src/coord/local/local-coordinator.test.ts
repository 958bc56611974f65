import { createSqliteStore } from "../../store/sqlite/sqlite-store.js";
import { emptyServer } from "../../server/fleet.js";
import { runCoordinatorContract } from "../coordinator.contract.js";
import { createLocalCoordinator } from "./local-coordinator.js";

runCoordinatorContract("local (SQLite + in-memory wake-ups)", {
  async create() {
    const store = createSqliteStore({ path: ":memory:" });
    for (const name of ["a", "b"])
      await store.servers.insert(emptyServer(name, "web", "127.0.0.2", 0, null));
    const release = (id: string) => ({
      id,
      app: "hello",
      version: id.slice(7, 11),
      size: 1,
      artifact_path: `/v1/releases/${id}/artifact`,
    });
    const coordinator = createLocalCoordinator({
      store,
      describeRelease: async (id) => release(id),
    });
    return { coordinator, release, close: () => store.close() };
  },
});
