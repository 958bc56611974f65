import { messageOf } from "../lib/errors.js";
import type { Cluster } from "./coordinator.js";

export interface LeadOptions {
  cluster: Cluster;
  /** Leadership name, e.g. `scheduler`. */
  name: string;
  /** This replica's id. */
  owner: string;
  /** Starts the work this replica does while it leads; returns how to stop it. */
  start: () => Promise<() => Promise<void>>;
  /** Stops campaigning and leading. */
  signal: AbortSignal;
  /** @default console.error */
  log?: (line: string) => void;
}

/**
 * Campaigns for `name` and runs `start` while this replica leads; when the
 * leadership is lost (this replica cut off from etcd past its lease) the work
 * stops and the campaign starts over. Resolves when `signal` aborts, after
 * stopping the work and resigning.
 */
export async function lead(options: LeadOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  while (!options.signal.aborted) {
    let leadership;
    try {
      leadership = await options.cluster.campaign(options.name, options.owner, options.signal);
    } catch (err) {
      if (options.signal.aborted) return;
      log(`[coord] campaign ${options.name}: ${messageOf(err)}; retrying`);
      await new Promise((retry) => setTimeout(retry, 1000).unref());
      continue;
    }
    const stopWork = await options.start();
    // Either may have fired while the work started: an abort listener added later never runs.
    if (!leadership.lost.aborted && !options.signal.aborted) {
      await new Promise<void>((done) => {
        const end = () => done();
        leadership.lost.addEventListener("abort", end, { once: true });
        options.signal.addEventListener("abort", end, { once: true });
      });
    }
    await stopWork();
    await leadership.release();
    if (!options.signal.aborted)
      log(`[coord] lost the leadership ${options.name}; campaigning again`);
  }
}
