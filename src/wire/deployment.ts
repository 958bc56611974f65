export type Strategy = "rolling" | "canary" | "all-at-once";

export type DeploymentState = "running" | "succeeded" | "failed" | "rolled_back";

export interface DeployRequest {
  app: string;
  version: string;
  group: string;
  strategy?: Strategy;
  /** Batch size for rolling/canary: a count ("2") or a share ("25%"). @default "1" */
  batch?: string;
  /** Servers that may fail before the deployment stops. @default 0 */
  max_failures?: number;
  /** Why: `rollback` deployments are recorded as such in the audit log. */
  kind?: "deploy" | "rollback";
}

export interface RollbackRequest {
  app: string;
  group: string;
  /** Version to return to; the previous successful release when omitted. */
  to?: string;
}

/** One step of an agent's reconcile, as reported to the control plane. */
export interface StepReport {
  name: string;
  state: "running" | "ok" | "failed" | "skipped";
  started_at: string;
  duration_ms: number | null;
  /** Bounded output of a hook or a message for other steps. */
  output?: string;
  error?: string;
}

export type DeploymentServerState =
  | "pending"
  | "draining"
  | "deploying"
  | "succeeded"
  | "failed"
  | "rolling_back"
  | "rolled_back"
  | "skipped";

export interface DeploymentServerView {
  name: string;
  wave: number;
  state: DeploymentServerState;
  error: string | null;
  steps: StepReport[];
}

export interface DeploymentView {
  id: string;
  app: string;
  group: string;
  version: string;
  release: string;
  previous_release: string | null;
  kind: "deploy" | "rollback";
  strategy: Strategy;
  state: DeploymentState;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  waves: number;
  servers: DeploymentServerView[];
}

/** Streamed to the CLI while a deployment runs (NDJSON on `/v1/deployments/:id/events`). */
export type DeploymentEvent =
  | { type: "snapshot"; deployment: DeploymentView }
  | { type: "wave"; wave: number; servers: string[] }
  | { type: "server"; server: string; state: DeploymentServerState; step?: StepReport }
  | { type: "done"; deployment: DeploymentView };
