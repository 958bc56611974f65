import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { Provider } from "../provider/provider.js";
import type { ServerRecord, Store } from "../store/store.js";
import type { ScaleView } from "../wire/image.js";
import { isGroupName } from "../wire/names.js";
import type { Fleet } from "./fleet.js";

export interface FleetOpsOptions {
  store: Store;
  /** Takes retiring servers out of the balancer (draining) before they stop. */
  fleet: Fleet;
  provider: Provider;
  clock: Clock;
  /** Where agents on new servers find the control plane (and the CA to pin, over HTTPS). */
  agent: () => { server: string; ca?: string };
  audit: (action: string, subject: string, detail?: Record<string, unknown>) => Promise<void>;
  /** Image a new server of the group boots from (golden images); none means the provider's base. */
  imageFor?: (group: string) => Promise<string | null>;
}

/** Launching and terminating servers through the provider. */
export class FleetOps {
  readonly #o: FleetOpsOptions;
  #launching = Promise.resolve();

  constructor(options: FleetOpsOptions) {
    this.#o = options;
  }

  /** Ensures the group has at least `count` live servers; returns the names launched. Idempotent. */
  async up(group: string, count: number): Promise<string[]> {
    if (!isGroupName(group)) {
      throw new StrataError(
        "bad_request",
        `[fleet] group: "${group}" must be lowercase letters, digits and dashes`,
      );
    }
    if (!Number.isInteger(count) || count < 0 || count > 250) {
      throw new StrataError(
        "bad_request",
        `[fleet] count: must be a whole number from 0 to 250, got ${count}`,
      );
    }
    // Launches are serialised so two calls never pick the same names.
    const run = this.#launching.then(() => this.#up(group, count));
    this.#launching = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #up(group: string, count: number): Promise<string[]> {
    const { store, provider, fleet } = this.#o;
    await store.groups.ensure(group);
    const live = await store.servers.list(group);
    const missing = count - live.length;
    if (missing <= 0) return [];
    const taken = new Set((await store.servers.list()).map((s) => s.name));
    const names: string[] = [];
    for (let i = 1; names.length < missing; i++) {
      const name = `${group}-${i}`;
      if (!taken.has(name) && !(await store.servers.get(name))) names.push(name);
    }
    const image = (await this.#o.imageFor?.(group)) ?? null;
    await Promise.all(
      names.map(async (name) => {
        // The record and its single-use join token exist before the instance: its agent may join at once.
        const joinToken = await fleet.issueJoinToken({ name, group });
        let instance;
        try {
          instance = await provider.launch({
            name,
            group,
            ...(image ? { image } : {}),
            tags: { "strata:group": group },
            agent: { ...this.#o.agent(), joinToken, group },
          });
        } catch (err) {
          await store.servers.update(name, { state: "terminated", join_token_hash: null });
          await this.#o.audit("server.launch_failed", name, { group, error: String(err) });
          throw err;
        }
        const record = await store.servers.get(name);
        if (record?.address && record.address !== instance.address) {
          // Joined from somewhere else than the provider put it: not this instance's agent.
          await fleet.revoke(name);
        }
        await store.servers.update(name, {
          provider_id: instance.id,
          root: instance.root ?? null,
          image,
          address: instance.address,
          // launched_at stays the time of the request (set with the join token): a quick agent
          // may be in service before launch() returns, and the lag runs from the request.
        });
        await this.#o.audit("server.launch", name, { group, address: instance.address, image });
      }),
    );
    return names;
  }

  /**
   * Sets the group to exactly `count` servers: missing ones launch from the
   * group's image; surplus ones (out of service first, then the newest names)
   * drain from the balancer and terminate.
   */
  async scale(group: string, count: number): Promise<ScaleView> {
    validate(group, count);
    const live = await this.#o.store.servers.list(group);
    if (count >= live.length) {
      const image = (await this.#o.imageFor?.(group)) ?? null;
      return { group, count, image, launched: await this.up(group, count), terminated: [] };
    }
    const victims = [...live]
      .sort(
        (a, b) =>
          Number(a.in_service) - Number(b.in_service) ||
          b.name.localeCompare(a.name, "en", { numeric: true }),
      )
      .slice(0, live.length - count);
    await this.#retire(victims, `scale to ${count}`);
    return { group, count, image: null, launched: [], terminated: victims.map((s) => s.name) };
  }

  /** Terminates every server of the group (or of all groups). Returns the names terminated. */
  async down(group?: string): Promise<string[]> {
    const servers = await this.#o.store.servers.list(group);
    await this.#retire(servers, "fleet down");
    return servers.map((s) => s.name);
  }

  /**
   * Retires the named live servers of the group: each drains from the balancer (in-flight
   * requests finish) before it terminates. Unknown names are skipped; returns those retired.
   */
  async retire(group: string, names: readonly string[], reason: string): Promise<string[]> {
    const servers = (await this.#o.store.servers.list(group)).filter((s) => names.includes(s.name));
    await this.#retire(servers, reason);
    return servers.map((s) => s.name);
  }

  /** Drains servers from the balancer, then stops them through the provider. */
  async #retire(servers: ServerRecord[], reason: string): Promise<void> {
    const { store, provider, fleet } = this.#o;
    const names = servers.map((s) => s.name);
    await fleet.holdOut(names);
    await Promise.all(
      servers.map(async (server) => {
        if (server.provider_id) await provider.terminate(server.provider_id);
        await store.servers.update(server.name, {
          state: "terminated",
          in_service: false,
          token_hash: null,
        });
        await this.#o.audit("server.terminate", server.name, { group: server.group, reason });
      }),
    );
    // The hold is only for this retirement: a later server may reuse a name.
    await fleet.letIn(names);
  }
}

function validate(group: string, count: number): void {
  if (!isGroupName(group)) {
    throw new StrataError(
      "bad_request",
      `[fleet] group: ${JSON.stringify(group)} must be lowercase letters, digits and dashes`,
    );
  }
  if (!Number.isInteger(count) || count < 0 || count > 250) {
    throw new StrataError(
      "bad_request",
      `[fleet] count: must be a whole number from 0 to 250, got ${JSON.stringify(count)}`,
    );
  }
}
