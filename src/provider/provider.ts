/**
 * Launches and terminates servers. Sized for Nova/Glance: launching is
 * asynchronous (an instance goes building -> active), instances carry ids,
 * names, tags and the image they booted from.
 */
export interface Provider {
  /** Provider name as used in config (`local`, `openstack`). */
  readonly name: string;
  /**
   * Asks for a new server. Returns once the request is accepted, with the
   * instance in `building` (or already `active`: the OpenStack provider waits
   * for ACTIVE). A launch that fails leaves no server behind (one created
   * before a later step failed is deleted). Not idempotent: each call
   * launches one more server. May run concurrently.
   */
  launch(spec: LaunchSpec): Promise<Instance>;
  /** Current view of one instance; null once it is gone. */
  get(id: string): Promise<Instance | null>;
  /** Instances carrying all the given tags. */
  list(tags?: Record<string, string>): Promise<Instance[]>;
  /** Stops and deletes the instance. Idempotent. */
  terminate(id: string): Promise<void>;
  /**
   * Called once at control-plane start: brings back what should run (the local
   * provider restarts the agent processes of its active instances).
   */
  resume(): Promise<void>;
  /**
   * Called once at control-plane shutdown. Servers keep running (as VMs do
   * while their control plane restarts) unless `stopServers` is set: the
   * local provider then stops its agent processes (tests, the demo).
   */
  close(options?: { stopServers?: boolean }): Promise<void>;
}

export type InstanceState = "building" | "active" | "error" | "deleted";

export interface LaunchSpec {
  name: string;
  group: string;
  /** Image to boot from; the provider's base image when absent. */
  image?: string;
  tags: Record<string, string>;
  /** What the agent on the new server needs to join (Nova user_data is at most 65,535 bytes). */
  agent: {
    server: string;
    /** Single-use, bound to this instance. */
    joinToken: string;
    group: string;
    /** PEM of strata's CA when the API serves HTTPS: the agent pins it. */
    ca?: string;
  };
}

export interface Instance {
  id: string;
  name: string;
  state: InstanceState;
  /** Address the server's app listens on. */
  address: string;
  tags: Record<string, string>;
  image: string | null;
  created_at: string;
  /** Local provider only: the server's root folder. */
  root?: string;
}
