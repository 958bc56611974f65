import { Agent } from "undici";

const dispatchers = new Map<string, Agent>();

/**
 * `fetch` options that trust exactly `ca` (strata's own CA, pinned) for
 * HTTPS; none for plain HTTP or when no CA is pinned (the system's roots).
 */
export function tlsOptions(ca: string | undefined): { dispatcher?: Agent } {
  if (!ca) return {};
  let agent = dispatchers.get(ca);
  if (!agent) dispatchers.set(ca, (agent = new Agent({ connect: { ca } })));
  return { dispatcher: agent };
}
