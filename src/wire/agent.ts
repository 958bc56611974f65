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
}

/** What one server should run. The generation grows with every change. */
export interface DesiredState {
  generation: number;
  release: DesiredRelease | null;
}

export interface DesiredRelease {
  id: string;
  app: string;
  version: string;
  size: number;
  /** Path on the control plane to GET the artifact from, with the agent token. */
  artifact_path: string;
}

export interface AgentReport {
  /** The generation this report is about. */
  generation: number;
  release_id: string | null;
  phase: "working" | "converged" | "failed";
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
