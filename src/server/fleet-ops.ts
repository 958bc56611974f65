import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { Provider } from "../provider/provider.js";
import type { Store } from "../store/store.js";
import { emptyServer } from "./fleet.js";

export interface FleetOpsOptions {
  store: Store;
  provider: Provider;
  clock: Clock;
  /** What agents on new servers need to join. */
  agent: () => { server: string; joinToken: string };
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
  up(group: string, count: number): Promise<string[]> {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(group)) {
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
    const { store, provider, clock } = this.#o;
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
        const instance = await provider.launch({
          name,
          group,
          ...(image ? { image } : {}),
          tags: { "strata:group": group },
          agent: { ...this.#o.agent(), group },
        });
        const details = { provider_id: instance.id, root: instance.root ?? null, image };
        // A quick agent may have joined already; its record is then completed, not duplicated.
        if (await store.servers.get(name)) await store.servers.update(name, details);
        else
          await store.servers.insert({
            ...emptyServer(name, group, instance.address, clock.now(), null),
            ...details,
          });
        await this.#o.audit("server.launch", name, { group, address: instance.address, image });
      }),
    );
    return names;
  }

  /** Terminates every server of the group (or of all groups). Returns the names terminated. */
  async down(group?: string): Promise<string[]> {
    const { store, provider } = this.#o;
    const servers = await store.servers.list(group);
    await Promise.all(
      servers.map(async (server) => {
        if (server.provider_id) await provider.terminate(server.provider_id);
        await store.servers.update(server.name, {
          state: "terminated",
          in_service: false,
          token_hash: null,
        });
        await this.#o.audit("server.terminate", server.name, { group: server.group });
      }),
    );
    return servers.map((s) => s.name);
  }
}
