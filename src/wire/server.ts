/** Lifecycle of one server as the control plane sees it. */
export type ServerState =
  | "launching" // provider asked, agent not joined yet
  | "joined" // agent registered, not converged yet
  | "deploying" // agent working towards its desired release
  | "ready" // running its desired release, app healthy
  | "failed" // last reconcile failed; still serving what it had, if anything
  | "offline" // no heartbeat within the timeout
  | "terminated";

export interface ServerView {
  name: string;
  address: string;
  group: string;
  state: ServerState;
  /** Release the server runs now (null before the first deploy). */
  release: string | null;
  version: string | null;
  /** Release the server is told to run. */
  desired_release: string | null;
  in_service: boolean;
  last_heartbeat: string | null;
  image: string | null;
  launched_at: string | null;
  ready_at: string | null;
  in_service_at: string | null;
  /** Bytes in the server's content-addressed file store, from its last heartbeat (src/cas/). */
  store_bytes?: number | null;
}

export interface GroupView {
  name: string;
  app: string | null;
  desired_release: string | null;
  desired_version: string | null;
  /** `host:port` of the group's load balancer listener, once it exists. */
  balancer: string | null;
}

export interface StatusView {
  groups: GroupView[];
  servers: ServerView[];
}
