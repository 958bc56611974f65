import { z } from "zod";
import { StepReportSchema } from "./deployment.js";
import { groupName, ipAddress, port, releaseId, serverName } from "./names.js";

/** Body of `POST /v1/agents/join`. The join token travels as the bearer token (or, for older agents, here). */
export const JoinRequestSchema = z.strictObject({
  join_token: z.string().max(256).optional(),
  name: serverName,
  group: groupName,
  address: ipAddress,
});
export type JoinRequest = z.infer<typeof JoinRequestSchema>;

export interface JoinResponse {
  server: string;
  /** Per-agent bearer token; the join token is never used again by this agent. */
  token: string;
  /** The control plane's release-signing public key (SPKI PEM), pinned by the agent at its first join. */
  release_key?: string;
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

/** What one server should run. The generation grows with every change. */
export interface DesiredState {
  generation: number;
  release: DesiredRelease | null;
  /**
   * A release to fetch, verify and unpack now, without switching to it: a
   * deployment stages every server before it takes any out of service, so
   * the out-of-service window is only switch + restart + health check.
   */
  stage?: DesiredRelease | null;
  /** The app must not run (`strata app stop`): the agent stops it, also after its own restart. */
  stopped?: boolean;
  /** Id of the last restart asked (`strata app restart`): a new one restarts the app once. */
  restart?: string;
}

/** Output and errors an agent sends are bounded (hooks keep their last 64 KiB). */
const text = z.string().max(128 * 1024);

/** Body of `POST /v1/agents/report`. */
export const AgentReportSchema = z.strictObject({
  /** The generation this report is about. */
  generation: z.number().int().min(0),
  release_id: releaseId.nullable(),
  /** `staged`: the release of `stage` is unpacked and valid, nothing switched. */
  phase: z.enum(["working", "converged", "failed", "staged"]),
  /** Release running after this step (may be the previous one after a roll back). */
  current_release: releaseId.nullable(),
  steps: z.array(StepReportSchema).max(100),
  error: text.optional(),
  /** Where the app listens once healthy. */
  app_port: port.optional(),
});
export type AgentReport = z.infer<typeof AgentReportSchema>;

/** Body of `POST /v1/agents/heartbeat`. */
export const HeartbeatSchema = z.strictObject({
  current_release: releaseId.nullable(),
  app_healthy: z.boolean(),
  app_port: port.nullable(),
  /** Bytes in the server's content-addressed file store (src/cas/). */
  store_bytes: z.number().int().min(0).optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

/** Answer to `POST /v1/agents/heartbeat`. */
export interface HeartbeatResponse {
  /** Rotate the agent token now (`POST /v1/agents/token`): it is old, or an operator asked. */
  rotate_token: boolean;
}

/** Body of `POST /v1/agents/token`: none (or an empty mapping). */
export const TokenRotationRequestSchema = z.strictObject({}).optional();

/** Answer to `POST /v1/agents/token`: the agent's new token (the current one works until it is used). */
export interface TokenRotation {
  token: string;
}

/** Query of `GET /v1/agents/desired`. */
export const DesiredQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(-1).default(-1),
  /** Seconds to hold the long poll; capped by the server. */
  wait: z.coerce.number().min(0).max(3600).default(0),
});
