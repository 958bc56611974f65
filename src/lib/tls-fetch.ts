import type { Agent } from "undici";

const dispatchers = new Map<string, Promise<Agent>>();

/**
 * `fetch` options that trust exactly `ca` (strata's own CA, pinned) for
 * HTTPS; none for plain HTTP or when no CA is pinned (the system's roots).
 * undici (about 780 KB of the agent's 1.2 MB bundle) loads only for a pinned
 * CA: an agent on plain HTTP joins without parsing it.
 */
export async function tlsOptions(ca: string | undefined): Promise<{ dispatcher?: Agent }> {
  if (!ca) return {};
  let agent = dispatchers.get(ca);
  if (!agent) {
    agent = import("undici").then((undici) => {
      // A bundle's chunk of the CommonJS package exports it as `default` only.
      const { Agent } = (undici.Agent ? undici : undici.default) as typeof undici;
      return new Agent({ connect: { ca } });
    });
    dispatchers.set(ca, agent);
  }
  return { dispatcher: await agent };
}
