import { messageOf } from "../../lib/errors.js";
import type { AgentTask, TaskOutput } from "../../wire/ops.js";
import type { Holds, TaskChannel, TaskOutputListener } from "../coordinator.js";
import type { EtcdClient, KeyValue, WatchEvent } from "./etcd-client.js";

export interface EtcdTasksOptions {
  client: EtcdClient;
  /** The coordinator's key prefix, without a trailing slash. */
  prefix: string;
  /** TTL of the replica's lease that holds and open tasks are bound to. */
  ttlMs: number;
  log: (line: string) => void;
  /** What the coordinator's first read found under the prefix. */
  initial: KeyValue[];
}

/** Plain operations per transaction: etcd's default --max-txn-ops. */
const MAX_TXN_OPS = 128;

/**
 * Holds and the ops task channel on etcd, bound to one lease of this replica
 * (renewed every third of its TTL, revoked at close), so that what a dead
 * replica held or waited on goes with it:
 * - `<prefix>/holds/<server>`: a server held out of the balancer;
 * - `<prefix>/tasks/open/<id>`: a task someone waits on (value: its server);
 * - `<prefix>/tasks/queue/<server>/<id>`: a task not taken yet (value: the task);
 *   a poll takes it by deleting it under a compare, so one poll gets it;
 * - `<prefix>/tasks/output/<id>`: the agent's last post, overwritten by the
 *   next; the opener's watch sees every put, in order, whichever replica wrote it.
 * The coordinator's one watch stream feeds `onEvent`.
 */
export function createEtcdTasks(options: EtcdTasksOptions) {
  const { client, prefix, ttlMs, log } = options;
  const HOLDS = `${prefix}/holds/`;
  const OPEN = `${prefix}/tasks/open/`;
  const QUEUE = `${prefix}/tasks/queue/`;
  const OUTPUT = `${prefix}/tasks/output/`;

  /** Tasks this replica opened: their listeners. */
  const opened = new Map<string, TaskOutputListener>();
  /** Every replica's open tasks, as the watch shows them. */
  const openKeys = new Map<string, KeyValue>();
  /** Queued tasks by server, then id, as the watch shows them. */
  const queues = new Map<string, Map<string, KeyValue>>();
  const pollers = new Map<string, Set<() => void>>();
  /** Servers this replica holds out: bound again to a new lease if the old one lapsed. */
  const holding = new Set<string>();

  let lease: Promise<string> | null = null;
  let renewer: NodeJS.Timeout | null = null;
  let closed = false;

  /** The replica's lease, granted at first use. */
  function leaseId(): Promise<string> {
    if (lease) return lease;
    const granted = client.grant(ttlMs);
    lease = granted;
    granted.then(
      (id) => {
        renewer ??= setInterval(() => void renew(), ttlMs / 3);
        renewer.unref();
        return id;
      },
      () => {
        if (lease === granted) lease = null;
      },
    );
    return granted;
  }

  async function renew(): Promise<void> {
    const current = lease;
    if (!current || closed) return;
    const id = await current.catch(() => null);
    if (!id) return;
    const alive = await client.keepAlive(id).catch((err: unknown) => {
      log(`[coord] cannot renew the replica lease: ${messageOf(err)}`);
      return true; // Not known to have lapsed: the next renewal tries again.
    });
    if (alive || lease !== current) return;
    // Lapsed (this replica was cut off): etcd deleted its keys. Holds are bound again;
    // open tasks hear of it from the deletes of their keys.
    log("[coord] the replica lease lapsed: binding holds to a new one");
    lease = null;
    await putHolds([...holding]).catch((err: unknown) => {
      log(`[coord] cannot restore holds: ${messageOf(err)}`);
    });
  }

  async function inBatches(ops: { put?: string; delete?: string }[], bound?: string) {
    for (let i = 0; i < ops.length; i += MAX_TXN_OPS) {
      await client.txn(
        [],
        ops
          .slice(i, i + MAX_TXN_OPS)
          .map((op) =>
            op.put
              ? { put: { key: op.put, value: "1", ...(bound ? { lease: bound } : {}) } }
              : { delete: { key: op.delete! } },
          ),
      );
    }
  }

  async function putHolds(servers: string[]): Promise<void> {
    if (servers.length === 0) return;
    const id = await leaseId();
    await inBatches(
      servers.map((s) => ({ put: HOLDS + s })),
      id,
    );
  }

  function queued(kv: KeyValue): { server: string; id: string } {
    const rest = kv.key.slice(QUEUE.length);
    const at = rest.lastIndexOf("/");
    return { server: rest.slice(0, at), id: rest.slice(at + 1) };
  }

  function onEvent(event: WatchEvent): void {
    const { key } = event.kv;
    if (key.startsWith(QUEUE)) {
      const { server, id } = queued(event.kv);
      if (event.type === "put") {
        let queue = queues.get(server);
        if (!queue) queues.set(server, (queue = new Map()));
        queue.set(id, event.kv);
        for (const wake of [...(pollers.get(server) ?? [])]) wake();
      } else {
        queues.get(server)?.delete(id);
        if (queues.get(server)?.size === 0) queues.delete(server);
      }
    } else if (key.startsWith(OPEN)) {
      const id = key.slice(OPEN.length);
      if (event.type === "put") openKeys.set(id, event.kv);
      else {
        openKeys.delete(id);
        // Deleted while still open here: the lease lapsed, not a close.
        opened.get(id)?.(null);
      }
    } else if (key.startsWith(OUTPUT) && event.type === "put") {
      opened.get(key.slice(OUTPUT.length))?.(JSON.parse(event.kv.value) as TaskOutput);
    }
  }

  for (const kv of options.initial) onEvent({ type: "put", kv });

  /** After a broken watch: open tasks may have missed posts, the caches changes. */
  async function resync(): Promise<void> {
    for (const listener of [...opened.values()]) listener(null);
    const { kvs } = await client.list(`${prefix}/tasks/`);
    openKeys.clear();
    queues.clear();
    for (const kv of kvs) onEvent({ type: "put", kv });
    for (const set of pollers.values()) for (const wake of [...set]) wake();
  }

  /** Takes the queued tasks of `server`: each by a delete that only one poll can win. */
  async function claim(server: string): Promise<AgentTask[]> {
    const queue = queues.get(server);
    if (!queue || queue.size === 0) return [];
    const entries = [...queue.values()];
    queues.delete(server);
    const won = await Promise.all(
      entries.map((kv) =>
        client
          .txn(
            [{ key: kv.key, target: "MOD", revision: kv.modRevision }],
            [{ delete: { key: kv.key } }],
          )
          .then(
            (r) => r.succeeded,
            () => false,
          ),
      ),
    );
    return entries.filter((_, i) => won[i]).map((kv) => JSON.parse(kv.value) as AgentTask);
  }

  const channel: TaskChannel = {
    async openTask(server, task, onOutput) {
      const id = await leaseId();
      const openKey = OPEN + task.id;
      opened.set(task.id, onOutput);
      try {
        await client.txn(
          [],
          [
            { put: { key: openKey, value: server, lease: id } },
            {
              put: { key: `${QUEUE}${server}/${task.id}`, value: JSON.stringify(task), lease: id },
            },
          ],
        );
      } catch (err) {
        opened.delete(task.id);
        throw err;
      }
      let closing: Promise<void> | null = null;
      return {
        close: () =>
          (closing ??= (async () => {
            opened.delete(task.id);
            await client
              .txn(
                [],
                [
                  { delete: { key: openKey } },
                  { delete: { key: `${QUEUE}${server}/${task.id}` } },
                  { delete: { key: OUTPUT + task.id } },
                ],
              )
              .catch((err: unknown) => {
                log(
                  `[coord] task ${task.id}: cannot delete its keys (the lease will): ${messageOf(err)}`,
                );
              });
          })()),
      };
    },

    async takeTasks(server, waitMs, signal) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const tasks = await claim(server);
        if (tasks.length > 0 || signal.aborted) return signal.aborted ? [] : tasks;
        const left = deadline - Date.now();
        if (left <= 0) return [];
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            pollers.get(server)?.delete(done);
            if (pollers.get(server)?.size === 0) pollers.delete(server);
            resolve();
          };
          const timer = setTimeout(done, left);
          signal.addEventListener("abort", done, { once: true });
          pollers.set(server, (pollers.get(server) ?? new Set()).add(done));
          // Queued between the claim and now: go round again at once.
          if (queues.get(server)?.size) done();
        });
      }
    },

    async postTaskOutput(server, id, output) {
      const openKey = OPEN + id;
      // A replica whose watch has not shown the task yet reads it.
      const open = openKeys.get(id) ?? (await client.get(openKey));
      if (!open || open.value !== server || !open.lease) return false;
      const written = await client.txn(
        [{ key: openKey, target: "CREATE", revision: open.createRevision }],
        [{ put: { key: OUTPUT + id, value: JSON.stringify(output), lease: open.lease } }],
      );
      return written.succeeded;
    },
  };

  const holds: Holds = {
    async holdOut(servers) {
      for (const server of servers) holding.add(server);
      await putHolds(servers);
    },
    async letIn(servers) {
      for (const server of servers) holding.delete(server);
      await inBatches(servers.map((s) => ({ delete: HOLDS + s })));
    },
    heldOut: async (server) => (await client.get(HOLDS + server)) !== null,
  };

  return {
    channel,
    holds,
    onEvent,
    resync,
    /** Stops renewing and revokes the lease: holds and open tasks end now, not after the TTL. */
    async close(): Promise<void> {
      closed = true;
      if (renewer) clearInterval(renewer);
      const id = await lease?.catch(() => null);
      if (id) await client.revoke(id).catch(() => undefined);
    },
  };
}
