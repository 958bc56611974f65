/**
 * Service-in and service-out. Sized for Octavia as much as for the built-in
 * proxy: pools and members have ids, and operations may complete asynchronously
 * (every method resolves once the change is in effect).
 */
export interface Balancer {
  /**
   * Ensures a listener for the group and returns where clients reach it.
   * Idempotent: a second call returns the existing pool. `port` is a wish; 0 or
   * absent lets the balancer pick.
   */
  ensurePool(group: string, options?: { port?: number }): Promise<PoolInfo>;
  /** Puts a member in service. Idempotent (same id updates address/port). May run concurrently. */
  addMember(group: string, member: MemberSpec): Promise<void>;
  /**
   * Takes a member out of service: no new requests go to it; resolves once its
   * in-flight requests finished or `drainMs` passed. Idempotent.
   */
  removeMember(group: string, id: string, options?: { drainMs?: number }): Promise<void>;
  /**
   * Removes the group's listener with its members (`strata group rm`, after its servers
   * are gone); its counts of the minute in progress are reported first. Idempotent.
   */
  removePool(group: string): Promise<void>;
  /** Members currently in service. */
  members(group: string): Promise<MemberSpec[]>;
  /**
   * Called once at control-plane shutdown. A balancer that serves apart from
   * the control plane (the local daemon, Octavia) keeps serving unless
   * `stopDataPlane` is set (tests, the demo); an in-process one closes its listeners.
   */
  close(options?: { stopDataPlane?: boolean }): Promise<void>;
}

export interface PoolInfo {
  group: string;
  /** `host:port` clients use. */
  address: string;
  port: number;
}

export interface MemberSpec {
  /** Server name. */
  id: string;
  address: string;
  port: number;
}

/** One minute of requests seen by a balancer listener, fed to the forecaster. */
export interface RequestCount {
  group: string;
  minute: number;
  total: number;
  s2xx: number;
  s3xx: number;
  s4xx: number;
  s5xx: number;
}
