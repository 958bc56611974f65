import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createConfiguredArtifactStore } from "../../artifact/artifact-config.js";
import { ensureReleaseSigner, type ReleaseSigner } from "../../artifact/signing.js";
import type { ArtifactStore } from "../../artifact/store.js";
import { createConfiguredCoordinator } from "../../coord/coordination-config.js";
import type { Cluster, Coordinator } from "../../coord/coordinator.js";
import { createLocalCoordinator } from "../../coord/local/local-coordinator.js";
import type { ServerConfig } from "../../config/server-config.js";
import { describeRelease } from "../../fleet/fleet.js";
import { newToken } from "../../fleet/tokens.js";
import type { Clock } from "../../lib/clock.js";
import { createStore } from "../../store/state-config.js";
import type { Store } from "../../store/store.js";
import type { EnginesConfig } from "../engines.js";

/** The control plane's state: its data folder and secrets, the store, coordination, artifacts. */
export interface ControlPlaneState {
  dataDir: string;
  adminToken: string;
  /** The cluster-wide join token (used only when `join.cluster_token` is on). */
  joinToken: string;
  signer: ReleaseSigner;
  store: Store;
  /** The coordination engine when several replicas share one (etcd), else null. */
  cluster: (Coordinator & Cluster & { close(): Promise<void> }) | null;
  coordinator: Coordinator;
  artifacts: ArtifactStore;
}

/** Opens the data folder (secrets made at first start) and the three engines. */
export async function openState(
  config: ServerConfig,
  engines: EnginesConfig,
  clock: Clock,
): Promise<ControlPlaneState> {
  const dataDir = resolve(config.dataDir);
  // 0711: apps (an unprivileged account) pass through to their server roots, never list; secrets are 0600.
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  await chmod(dataDir, 0o711);
  const adminToken = await ensureSecret(join(dataDir, "admin-token"));
  const joinToken = await ensureSecret(join(dataDir, "join-token"));
  const signer = await ensureReleaseSigner(join(dataDir, "release-signing-key.pem"));

  const store = await createStore(engines.state, { dataDir, clock });
  for (const file of ["state.db", "state.db-wal", "state.db-shm"]) {
    await chmod(join(dataDir, file), 0o600).catch(() => undefined);
  }
  const artifacts = await createConfiguredArtifactStore(engines.artifacts, { dataDir });
  const cluster = await createConfiguredCoordinator(engines.coordination);
  const coordinator =
    cluster ??
    createLocalCoordinator({
      desired: store.desired,
      describeRelease: (id) => describeRelease(store, id, signer),
    });
  return { dataDir, adminToken, joinToken, signer, store, cluster, coordinator, artifacts };
}

async function ensureSecret(path: string): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = newToken();
  await writeFile(path, token + "\n", { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}
