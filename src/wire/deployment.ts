import { z } from "zod";
import { appName, groupName, version } from "./names.js";

export const STRATEGIES = ["rolling", "canary", "all-at-once"] as const;
export type Strategy = (typeof STRATEGIES)[number];

export type DeploymentState = "running" | "succeeded" | "failed" | "rolled_back";

const waveOptions = {
  strategy: z.enum(STRATEGIES).optional(),
  /** Batch size for rolling/canary: a count ("2") or a share ("25%"). @default "1" */
  batch: z
    .union([
      z.string().regex(/^\d{1,6}%?$/, 'expected a count like "2" or a share like "25%"'),
      z.int(),
    ])
    .transform(String)
    .optional(),
  /** Servers that may fail before the deployment stops. @default 0 */
  max_failures: z.int().min(0).max(100_000).optional(),
};

/** Body of `POST /v1/deployments`. */
export const DeployRequestSchema = z.strictObject({
  app: appName,
  version,
  group: groupName,
  ...waveOptions,
});
export type DeployRequest = z.infer<typeof DeployRequestSchema> & {
  /** Why: `rollback` deployments are recorded as such in the audit log. */
  kind?: DeploymentKind;
};

/** `restart`, `stop`, `start`: the app's process on the release it runs (`strata app`), in waves. */
export const APP_ACTIONS = ["restart", "stop", "start"] as const;
export type AppAction = (typeof APP_ACTIONS)[number];
export type DeploymentKind = "deploy" | "rollback" | AppAction;

/** Body of `POST /v1/groups/:group/app/:action`. */
export const AppActionRequestSchema = z.strictObject(waveOptions);
export type AppActionRequest = z.infer<typeof AppActionRequestSchema>;

/** Body of `POST /v1/rollbacks`. */
export const RollbackRequestSchema = z.strictObject({
  app: appName,
  group: groupName,
  /** Version to return to; the previous successful release when omitted. */
  to: version.optional(),
  ...waveOptions,
});
export type RollbackRequest = z.infer<typeof RollbackRequestSchema>;

/** One step of an agent's reconcile, as reported to the control plane. */
export const StepReportSchema = z.strictObject({
  name: z.string().min(1).max(64),
  state: z.enum(["running", "ok", "failed", "skipped"]),
  started_at: z.string().max(64),
  duration_ms: z.number().min(0).nullable(),
  /** Bounded output of a hook or a message for other steps. */
  output: z
    .string()
    .max(128 * 1024)
    .optional(),
  error: z
    .string()
    .max(128 * 1024)
    .optional(),
});
export type StepReport = z.infer<typeof StepReportSchema>;

export type DeploymentServerState =
  | "pending"
  | "staging" // fetching, verifying and unpacking the release while still in service
  | "staged"
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
  kind: DeploymentKind;
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
