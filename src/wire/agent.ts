import type { StepReport } from "./deployment.js";

export interface JoinRequest {
  join_token: string;
  name: string;
  group: string;
  address: string;
}

export interface JoinResponse {
  server: string;
  /** Per-agent bearer token; the join token is never used again by this agent. */
  token: string;
  /** The control plane's release-signing public key (SPKI PEM), pinned by the agent at its first join. */
  release_key?: string;
}

/** What one server should run. The generation grows with every change. */
export interface DesiredState {
  generation: number;
  release: DesiredRelease | null;
  /**
   * A release to fetch, verify, unpack and validate now without switching to
   * it, so that the switch later costs only switch + restart + health check.
   * Answered by a `staged` (or `failed`) report whose release_id is its id.
   */
  stage?: DesiredRelease | null;
}

export interface DesiredRelease {
  id: string;
  app: string;
  version: string;
  size: number;
  /** Path on the control plane to GET the artifact from, with the agent token. */
  artifact_path: string;
  /** Base64 ed25519 signature of the manifest (id, app, version, size; src/artifact/signing.ts). */
  signature?: string;
}

export interface AgentReport {
  /** The generation this report is about. */
  generation: number;
  release_id: string | null;
  /** `staged`: the generation's `stage` is on disk and valid; `current` and the app are untouched. */
  phase: "working" | "converged" | "failed" | "staged";
  /** Release running after this step (may be the previous one after a roll back). */
  current_release: string | null;
  steps: StepReport[];
  error?: string;
  /** Where the app listens once healthy. */
  app_port?: number;
}

export interface Heartbeat {
  current_release: string | null;
  app_healthy: boolean;
  app_port: number | null;
}
