import { randomBytes } from "node:crypto";
import { StrataError, messageOf } from "../../lib/errors.js";
import type { AgentReport, DesiredRelease, DesiredState } from "../../wire/agent.js";
import {
  nextDesired,
  nextStage,
  type Cluster,
  type Coordinator,
  type LeasedLock,
  type ReportListener,
  type RunChange,
} from "../coordinator.js";
import { EtcdClient, type KeyValue, type WatchEvent } from "./etcd-client.js";
import { createEtcdTasks } from "./etcd-tasks.js";

export interface EtcdCoordinatorOptions {
  /** Client URLs of the etcd members, e.g. `["http://127.0.0.1:2379"]`. */
  endpoints: string[];
  /** Prefix of every key strata keeps; several installations may share a cluster. @default "/strata" */
  prefix?: string;
  /**
   * Lease of each lock and leadership this replica holds: how long after this
   * replica dies another may take over. Renewed every third of it. @default 10000
   */
  leaseTtlMs?: number;
  /** Longest wait for one etcd request. @default 5000 */
  requestTimeoutMs?: number;
  /** Where broken watch streams and failed renewals are reported. @default console.error */
  log?: (line: string) => void;
}

/**
 * Desired state with the release to stage ahead of a switch (the lead's
 * DesiredState gains `stage`; this is the same shape until that lands here).
 */
export type StagedState = DesiredState & { stage?: DesiredRelease | null };

/**
 * What a desired key holds: release ids, not descriptors. Every replica's watch decodes every
 * desired key a deploy writes, so the key stays a few dozen bytes; each replica resolves the ids
 * from the release keys (`<prefix>/releases/<id>`, written once per release, immutable by id),
 * which its watch keeps at hand.
 */
interface StoredState {
  generation: number;
  release_id: string | null;
  stage_id?: string;
  stopped?: true;
  restart?: string;
}

/** A desired key as strata before release ids wrote it: the descriptors whole. Still read. */
interface LegacyState {
  generation: number;
  release: DesiredRelease | null;
  stage?: DesiredRelease | null;
  stopped?: boolean;
  restart?: string;
}

export type EtcdCoordinator = Omit<Coordinator, "desired" | "setDesired" | "watch" | "tryLock"> &
  Cluster & {
    desired(server: string): Promise<StagedState>;
    setDesired(
      server: string,
      release: DesiredRelease | null,
      options?: { force?: boolean; run?: RunChange },
    ): Promise<StagedState>;
    watch(
      server: string,
      after: number,
      timeoutMs: number,
      signal?: AbortSignal,
    ): Promise<StagedState>;
    /** Sets the release to fetch and unpack ahead of a switch; see Coordinator.setStage. */
    setStage(server: string, release: DesiredRelease | null): Promise<StagedState>;
    tryLock(
      name: string,
      owner: string,
      options?: { durable?: boolean },
    ): Promise<LeasedLock | null>;
    /** Stops the watch and renewals and gives up held locks and leaderships. Idempotent. */
    close(): Promise<void>;
  };

const EMPTY: StoredState = { generation: 0, release_id: null };
/**
 * Keys per transaction. etcd's default --max-txn-ops (128) bounds each list of a
 * transaction on its own (compares, success ops, failure ops), so 128 keys fit with a
 * compare, a put and a range read each; a user's etcd may allow more, never less.
 */
const MAX_TXN_KEYS = 128;
/** Plain puts per transaction (no compares): etcd's default --max-txn-ops. */
const MAX_TXN_PUTS = 128;

/**
 * The Coordinator on etcd v3, for several control-plane replicas. Desired state
 * is one key per server (`<prefix>/desired/<server>`) holding the state as
 * JSON with release ids, and one key per release (`<prefix>/releases/<id>`)
 * its descriptor; writes are compare-and-swap on the key's mod revision, so concurrent
 * writers never lose a generation. One watch stream per replica over
 * `<prefix>/` wakes the long polls of every agent connected to it, whichever
 * replica made the change. Locks and leaderships are keys bound to a lease of
 * their own, renewed while held and revoked on release; memberships are keys
 * bound to a lease per member, renewed on every touch. Holds and ops tasks are
 * keys bound to one lease of the replica (etcd-tasks.ts).
 */
export async function createEtcdCoordinator(
  options: EtcdCoordinatorOptions,
): Promise<EtcdCoordinator> {
  const client = new EtcdClient({
    endpoints: options.endpoints,
    timeoutMs: options.requestTimeoutMs ?? 5000,
  });
  const prefix = (options.prefix ?? "/strata").replace(/\/+$/, "");
  const ttlMs = options.leaseTtlMs ?? 10_000;
  const log = options.log ?? ((line: string) => console.error(line));
  const desiredKey = (server: string) => `${prefix}/desired/${server}`;
  const DESIRED = `${prefix}/desired/`;
  const MEMBERS = `${prefix}/members/`;
  const RELEASES = `${prefix}/releases/`;
  /** The last report of each server, published by the replica that received it. */
  const REPORTS = `${prefix}/reports/`;

  /** Woken with the new state on every change of a server's desired state; null on a resync. */
  const waiters = new Map<string, Set<(state: DesiredState | null) => void>>();
  /** Called on every change of a key (locks, leaderships) and on a resync. */
  const keyListeners = new Map<string, Set<() => void>>();
  const reportListeners = new Set<ReportListener>();
  const held = new Set<{ release(): Promise<void> }>();
  /**
   * The lease each member's key is bound to, as this replica last saw it (its
   * own touches, the watch): any replica renews the one lease of a member, so an
   * agent's heartbeats may reach any replica.
   */
  const memberLeases = new Map<string, string>();
  /** The last version of each server's desired key this replica saw: the guess for the next CAS. */
  const known = new Map<string, KeyValue | null>();
  const stop = new AbortController();
  /**
   * Ends the parked long polls when this replica closes. A Set, not a listener each on
   * `stop.signal`: an AbortSignal walks its listeners to find the one to remove, so 2,500
   * polls answered at once were quadratic (Node 20: up to 9 ms for 2,500; a Set: 0.1 ms).
   */
  const parked = new Set<() => void>();

  /** Descriptors by release id: from the release keys, legacy values and this replica's writes. */
  const described = new Map<string, DesiredRelease>();
  /** Ids whose release key etcd holds (seen by the watch, the first list, or written here). */
  const published = new Set<string>();
  const fetching = new Map<string, Promise<DesiredRelease | null>>();
  const publishing = new Map<string, Promise<void>>();

  function parse(kv: KeyValue | null): StoredState {
    if (!kv || !kv.value) return EMPTY;
    const value = JSON.parse(kv.value) as StoredState | LegacyState;
    if (!("release" in value)) return value;
    // A key written before release ids: its descriptors serve as they are.
    for (const release of [value.release, value.stage]) if (release) learnRelease(release);
    return storedOf(value);
  }

  const storedOf = (state: DesiredState | LegacyState): StoredState => ({
    generation: state.generation,
    release_id: state.release?.id ?? null,
    ...(state.stage ? { stage_id: state.stage.id } : {}),
    ...(state.stopped ? { stopped: true } : {}),
    ...(state.restart ? { restart: state.restart } : {}),
  });

  function learnRelease(release: DesiredRelease): void {
    if (!described.has(release.id)) described.set(release.id, release);
  }

  /**
   * The state with its descriptors, if this replica has them at hand (it nearly always does:
   * the release key is written before any desired key names it, so the watch brings it first);
   * null when one must be read from etcd first (`resolve`).
   */
  function viewNow(state: StoredState, missing?: "as none"): DesiredState | null {
    const release = state.release_id ? described.get(state.release_id) : null;
    const stage = state.stage_id ? described.get(state.stage_id) : null;
    if ((release === undefined || stage === undefined) && !missing) return null;
    return {
      generation: state.generation,
      release: release ?? null,
      ...(stage ? { stage } : {}),
      ...(state.stopped ? { stopped: true } : {}),
      ...(state.restart ? { restart: state.restart } : {}),
    };
  }

  /**
   * `viewNow`, reading the release keys it lacks. A release key that is gone (never written
   * by this version, or removed by hand) reads as no release: the agent keeps what it runs
   * and reports so, the same as for a server with nothing desired.
   */
  async function resolve(state: StoredState): Promise<DesiredState> {
    const now = viewNow(state);
    if (now) return now;
    const ids = [state.release_id, state.stage_id].filter((id): id is string => !!id);
    await Promise.all(ids.filter((id) => !described.has(id)).map(fetchRelease));
    return viewNow(state, "as none")!;
  }

  function fetchRelease(id: string): Promise<DesiredRelease | null> {
    let fetched = fetching.get(id);
    if (!fetched) {
      fetched = client
        .get(`${RELEASES}${id}`)
        .finally(() => fetching.delete(id))
        .then((kv) => {
          if (!kv) {
            log(`[coord] etcd: release ${id} is desired but ${RELEASES}${id} is gone`);
            return null;
          }
          published.add(id);
          const release = JSON.parse(kv.value) as DesiredRelease;
          learnRelease(release);
          return release;
        });
      fetching.set(id, fetched);
    }
    return fetched;
  }

  /** Writes the release key of `release` unless etcd has it; once per release and replica. */
  async function publish(release: DesiredRelease | null | undefined): Promise<void> {
    if (!release || published.has(release.id)) return;
    let put = publishing.get(release.id);
    if (!put) {
      put = client
        .put(`${RELEASES}${release.id}`, JSON.stringify(release))
        .then(() => {
          learnRelease(release);
          published.add(release.id);
        })
        .finally(() => publishing.delete(release.id));
      publishing.set(release.id, put);
    }
    await put;
  }

  /** Every release key the first list of a replica found. */
  function learnReleases(kvs: KeyValue[]): void {
    for (const kv of kvs) {
      if (!kv.key.startsWith(RELEASES)) continue;
      const release = JSON.parse(kv.value) as DesiredRelease;
      learnRelease(release);
      published.add(release.id);
    }
  }

  function onEvents(events: WatchEvent[]): void {
    for (const event of events) {
      const key = event.kv.key;
      if (key.startsWith(DESIRED) && event.type === "put") {
        const server = key.slice(DESIRED.length);
        remember(server, event.kv);
        wakeWaiters(server, event.kv);
      }
      if (key.startsWith(DESIRED) && event.type === "delete")
        known.set(key.slice(DESIRED.length), null);
      if (key.startsWith(RELEASES) && event.type === "put") learnReleases([event.kv]);
      if (key.startsWith(REPORTS) && event.type === "put") deliverReport(event.kv);
      if (key.startsWith(MEMBERS)) {
        const member = key.slice(MEMBERS.length);
        if (event.type === "put" && event.kv.lease) memberLeases.set(member, event.kv.lease);
        else if (event.type === "delete") memberLeases.delete(member);
      }
      tasks.onEvent(event);
      const listeners = keyListeners.get(key);
      if (listeners) for (const fn of [...listeners]) fn();
    }
  }

  function wakeWaiters(server: string, kv: KeyValue): void {
    if (!waiters.has(server)) return;
    const stored = parse(kv);
    const wake = (state: DesiredState) => {
      for (const fn of [...(waiters.get(server) ?? [])]) fn(state);
    };
    const now = viewNow(stored);
    if (now) return wake(now);
    resolve(stored).then(
      // Unless a newer change came meanwhile: that one wakes them (a poll never goes back).
      (state) => known.get(server) === kv && wake(state),
      (err: unknown) =>
        log(`[coord] etcd: cannot read the releases desired on ${server}: ${messageOf(err)}`),
    );
  }

  function deliverReport(kv: KeyValue): void {
    const server = kv.key.slice(REPORTS.length);
    const report = JSON.parse(kv.value) as AgentReport;
    for (const listener of [...reportListeners]) listener(server, report);
  }

  /**
   * After a broken stream: the reports published while it was down, as their
   * keys hold them now (a server's newest only: a final report is never
   * followed by another of the same generation, so that is the one that counts).
   */
  async function redeliverReports(after: number, upTo: number): Promise<void> {
    if (reportListeners.size === 0) return;
    const { kvs } = await client.list(REPORTS);
    const missed = kvs.filter((kv) => kv.modRevision > after && kv.modRevision <= upTo);
    for (const kv of missed.sort((a, b) => a.modRevision - b.modRevision)) deliverReport(kv);
  }

  /** After a broken stream: everyone re-reads, since changes may have been missed. */
  function resync(): void {
    for (const set of waiters.values()) for (const fn of [...set]) fn(null);
    for (const set of keyListeners.values()) for (const fn of [...set]) fn();
  }

  const first = await client.list(`${prefix}/`).catch((err: unknown) => {
    throw new StrataError(
      "unavailable",
      `[coord] etcd: cannot reach ${options.endpoints.join(", ")}: ${messageOf(err)}`,
      { cause: err },
    );
  });
  let revision = first.revision;
  learnReleases(first.kvs);
  const tasks = createEtcdTasks({ client, prefix, ttlMs, log, initial: first.kvs });
  const watching = (async () => {
    let backoff = 100;
    while (!stop.signal.aborted) {
      try {
        await client.watch(
          `${prefix}/`,
          revision + 1,
          (events, at) => {
            backoff = 100;
            revision = Math.max(revision, at);
            onEvents(events);
          },
          stop.signal,
        );
      } catch (err) {
        if (stop.signal.aborted) break;
        log(`[coord] etcd watch broke, reconnecting: ${messageOf(err)}`);
        await new Promise((done) => setTimeout(done, backoff).unref());
        backoff = Math.min(backoff * 2, 2000);
        // Start from now once etcd answers again; whoever waits re-reads what it waits for.
        const now = await client.list(`${prefix}/--revision--`).catch(() => null);
        if (!now) continue;
        const before = revision;
        revision = now.revision;
        resync();
        await tasks.resync().catch((err: unknown) => {
          log(`[coord] etcd: cannot re-read the ops tasks: ${messageOf(err)}`);
        });
        await redeliverReports(before, now.revision).catch((err: unknown) => {
          log(`[coord] etcd: cannot re-read the reports missed: ${messageOf(err)}`);
        });
      }
    }
  })();

  async function read(server: string): Promise<{ state: StoredState; kv: KeyValue | null }> {
    const kv = await client.get(desiredKey(server));
    if (kv) remember(server, kv);
    return { state: parse(kv), kv };
  }

  /**
   * The desired keys of `servers`: read-only transactions of up to MAX_TXN_KEYS range
   * reads, sent at once (etcd answers them from its index: no raft write, no fsync).
   */
  async function readMany(servers: string[]): Promise<(KeyValue | null)[]> {
    const chunks: string[][] = [];
    for (let i = 0; i < servers.length; i += MAX_TXN_KEYS)
      chunks.push(servers.slice(i, i + MAX_TXN_KEYS));
    const answers = await Promise.all(
      chunks.map((chunk) =>
        client.txn(
          [],
          chunk.map((server) => ({ range: { key: desiredKey(server) } })),
        ),
      ),
    );
    return chunks.flatMap((chunk, c) =>
      chunk.map((server, i) => {
        const kv = answers[c]!.ranges[i]?.[0] ?? null;
        // An absent key says nothing against a write seen meanwhile (from the watch).
        if (kv || !known.has(server)) remember(server, kv);
        return kv;
      }),
    );
  }

  /**
   * Compare-and-swap on the key's mod revision until `next` is written or declines (null).
   * The first try guesses the key from what this replica last saw of it (its reads, its
   * writes, the watch), so a change is one round trip; a wrong guess costs a retry with the
   * value the failed transaction read back. Declining is decided on a fresh read only.
   */
  function update(
    server: string,
    next: (now: DesiredState) => DesiredState | null,
  ): Promise<DesiredState> {
    // One change of a server at a time in this replica, in call order: two in one tick
    // would both read the same state and the CAS retry could apply them out of order.
    const previous = updating.get(server) ?? Promise.resolve();
    const mine = previous.then(
      () => updateNow(server, next),
      () => updateNow(server, next),
    );
    const tail = mine.catch(() => undefined);
    updating.set(server, tail);
    void tail.then(() => {
      if (updating.get(server) === tail) updating.delete(server);
    });
    return mine;
  }

  async function updateNow(
    server: string,
    next: (now: DesiredState) => DesiredState | null,
  ): Promise<DesiredState> {
    const key = desiredKey(server);
    let kv = known.has(server) ? known.get(server)! : (await read(server)).kv;
    let fresh = !known.has(server);
    for (;;) {
      const stored = parse(kv);
      const now = viewNow(stored) ?? (await resolve(stored));
      const wanted = next(now);
      if (!wanted) {
        if (fresh) return now;
        kv = (await read(server)).kv;
        fresh = true;
        continue;
      }
      // Before the desired key names it: every replica's watch then has the descriptor first.
      const unpublished = [wanted.release, wanted.stage].filter((r) => r && !published.has(r.id));
      if (unpublished.length > 0) await Promise.all(unpublished.map(publish));
      const value = JSON.stringify(storedOf(wanted));
      const result = await casPut(key, kv, value);
      if (result.succeeded) {
        const written = {
          key,
          value,
          createRevision: kv?.createRevision ?? result.revision,
          modRevision: result.revision,
          lease: null,
        };
        remember(server, written);
        // This replica's long polls need not wait for the write to come back through the
        // watch; unless the watch brought a newer change first (a poll never goes back).
        if (known.get(server) === written) wakeWaiters(server, written);
        return wanted;
      }
      kv = result.current;
      fresh = true;
      remember(server, kv);
    }
  }

  interface Cas {
    key: string;
    guess: KeyValue | null;
    value: string;
    done: (result: { succeeded: boolean; revision: number; current: KeyValue | null }) => void;
    fail: (err: unknown) => void;
  }
  let queued: Cas[] = [];
  const updating = new Map<string, Promise<unknown>>();

  /**
   * One compare-and-swap put. Those asked for in the same tick go to etcd as
   * transactions of up to MAX_TXN_KEYS keys: a deploy to a thousand servers is
   * a few dozen writes (each an fsync in etcd), not a thousand. A transaction
   * fails as a whole when one guess was stale; each then gets its key's current
   * value back and retries.
   */
  function casPut(key: string, guess: KeyValue | null, value: string) {
    return new Promise<{ succeeded: boolean; revision: number; current: KeyValue | null }>(
      (done, fail) => {
        if (queued.length === 0) setImmediate(flush);
        queued.push({ key, guess, value, done, fail });
      },
    );
  }

  function flush(): void {
    const all = queued;
    queued = [];
    while (all.length > 0) {
      const batch: Cas[] = [];
      const keys = new Set<string>();
      for (let i = 0; i < all.length && batch.length < MAX_TXN_KEYS;) {
        // etcd refuses a key twice in one transaction: a second write waits for the next.
        if (keys.has(all[i]!.key)) i++;
        else {
          keys.add(all[i]!.key);
          batch.push(...all.splice(i, 1));
        }
      }
      if (batch.length === 0) {
        queued.push(...all.splice(0));
        setImmediate(flush);
        break;
      }
      client
        .txn(
          batch.map(({ key, guess }) =>
            guess
              ? { key, target: "MOD" as const, revision: guess.modRevision }
              : { key, target: "CREATE" as const, revision: 0 },
          ),
          batch.map(({ key, value }) => ({ put: { key, value } })),
          batch.map(({ key }) => ({ range: { key } })),
        )
        .then(
          (result) =>
            batch.forEach((c, i) =>
              c.done({
                succeeded: result.succeeded,
                revision: result.revision,
                current: result.succeeded ? null : (result.ranges[i]?.[0] ?? null),
              }),
            ),
          (err: unknown) => batch.forEach((c) => c.fail(err)),
        );
    }
  }

  interface Put {
    key: string;
    value: string;
    done: () => void;
    fail: (err: unknown) => void;
  }
  let queuedPuts: Put[] = [];

  /** A plain put; those asked for in the same tick go to etcd as one transaction (one fsync). */
  function batchedPut(key: string, value: string): Promise<void> {
    return new Promise<void>((done, fail) => {
      if (queuedPuts.length === 0) setImmediate(flushPuts);
      queuedPuts.push({ key, value, done, fail });
    });
  }

  function flushPuts(): void {
    const all = queuedPuts;
    queuedPuts = [];
    // etcd refuses a key twice in one transaction: a later put of a key waits for the earlier.
    const keys = new Set<string>();
    const now: Put[] = [];
    const later: Put[] = [];
    for (const put of all) {
      if (keys.has(put.key)) later.push(put);
      else now.push(put);
      keys.add(put.key);
    }
    const sent: Promise<unknown>[] = [];
    for (let i = 0; i < now.length; i += MAX_TXN_PUTS) {
      const batch = now.slice(i, i + MAX_TXN_PUTS);
      const txn = client.txn(
        [],
        batch.map(({ key, value }) => ({ put: { key, value } })),
      );
      txn.then(
        () => batch.forEach((p) => p.done()),
        (err: unknown) => batch.forEach((p) => p.fail(err)),
      );
      sent.push(txn.catch(() => undefined));
    }
    if (later.length > 0)
      void Promise.all(sent).then(() => {
        if (queuedPuts.length === 0) setImmediate(flushPuts);
        queuedPuts.unshift(...later);
      });
  }

  /**
   * Before a batch: the keys of the servers this replica has not seen yet, read in
   * transactions of many (when several are unknown), so that each change is one guessed
   * CAS instead of a read and a write.
   */
  async function learn(servers: string[]): Promise<void> {
    const unknown = servers.filter((s) => !known.has(s));
    if (unknown.length >= 8) await readMany(unknown);
  }

  /** Keeps the newest of what this replica has seen of a server's key. */
  function remember(server: string, kv: KeyValue | null): void {
    const seen = known.get(server);
    if (kv && seen && seen.modRevision >= kv.modRevision) return;
    known.set(server, kv);
  }

  /** Takes `key` with a lease of its own; null when someone holds it. */
  async function acquire(key: string, name: string, owner: string): Promise<LeasedLock | null> {
    const lease = await client.grant(ttlMs);
    const taken = await client.txn(
      [{ key, target: "CREATE", revision: 0 }],
      [{ put: { key, value: owner, lease } }],
    );
    if (!taken.succeeded) {
      await client.revoke(lease);
      return null;
    }
    const lost = new AbortController();
    let renewedAt = Date.now();
    const renew = setInterval(() => {
      client.keepAlive(lease).then(
        (alive) => {
          if (alive) renewedAt = Date.now();
          else lost.abort(new StrataError("conflict", `[coord] lease of ${key} expired`));
        },
        (err: unknown) => {
          if (Date.now() - renewedAt < ttlMs) return;
          log(`[coord] cannot renew ${key}: ${messageOf(err)}`);
          lost.abort(err);
        },
      );
    }, ttlMs / 3);
    renew.unref();
    let released: Promise<void> | null = null;
    const lock: LeasedLock = {
      name,
      owner,
      lost: lost.signal,
      release: () =>
        (released ??= (async () => {
          clearInterval(renew);
          held.delete(lock);
          await client.revoke(lease);
        })()),
    };
    lost.signal.addEventListener("abort", () => clearInterval(renew), { once: true });
    held.add(lock);
    return lock;
  }

  /** Takes `key` with no lease (it outlives this replica): a maintenance window. */
  async function acquireDurable(
    key: string,
    name: string,
    owner: string,
  ): Promise<LeasedLock | null> {
    const taken = await client.txn(
      [{ key, target: "CREATE", revision: 0 }],
      [{ put: { key, value: owner } }],
    );
    if (!taken.succeeded) return null;
    const release = async () => {
      await client.txn([{ key, target: "VALUE", value: owner }], [{ delete: { key } }]);
    };
    return { name, owner, lost: new AbortController().signal, release };
  }

  /** Resolves at the next change of `key` (or a resync), or when `signal` aborts. */
  function listen(key: string, signal?: AbortSignal): { changed: Promise<void>; cancel(): void } {
    let cancel = () => {};
    const changed = new Promise<void>((resolve) => {
      const done = () => {
        keyListeners.get(key)?.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      cancel = done;
      let set = keyListeners.get(key);
      if (!set) keyListeners.set(key, (set = new Set()));
      set.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
    return { changed, cancel };
  }

  let closing: Promise<void> | null = null;
  return {
    desired: async (server) => resolve((await read(server)).state),

    async desiredMany(servers) {
      const stored = (await readMany(servers)).map(parse);
      const now = stored.map((state) => viewNow(state));
      return now.every((state) => state !== null) ? now : Promise.all(stored.map(resolve));
    },

    setDesired: (server, release, setOptions = {}) =>
      update(server, (now) => nextDesired(now, release, setOptions)),

    setStage: (server, stage) => update(server, (now) => nextStage(now, stage)),

    async setDesiredMany(servers, release, setOptions = {}) {
      await Promise.all([learn(servers), publish(release)]);
      return Promise.all(
        servers.map((s) => update(s, (now) => nextDesired(now, release, setOptions))),
      );
    },

    async setStageMany(servers, stage) {
      await Promise.all([learn(servers), publish(stage)]);
      return Promise.all(servers.map((s) => update(s, (now) => nextStage(now, stage))));
    },

    async forget(servers) {
      // etcd takes at most 128 operations in one transaction (--max-txn-ops).
      for (let i = 0; i < servers.length; i += 64) {
        const part = servers.slice(i, i + 64);
        const keys = part.flatMap((s) => [desiredKey(s), `${REPORTS}${s}`]);
        await client.txn(
          [],
          keys.map((key) => ({ delete: { key } })),
        );
        for (const server of part) known.set(server, null);
      }
    },

    async watch(server, after, timeoutMs, signal) {
      // Listen before reading: a change between the two then wakes this poll.
      let wake: (state: DesiredState | "timeout" | "abandoned") => void = () => {};
      const woken = new Promise<DesiredState | "timeout" | "abandoned">((r) => (wake = r));
      const waiter = (state: DesiredState | null) => {
        if (state !== null) {
          if (state.generation !== after) wake(state);
          return;
        }
        // Resynced after a broken stream: a change may have been missed. A failed read
        // leaves the poll waiting for the next resync or its timeout.
        read(server)
          .then((now) => resolve(now.state))
          .then(
            (now) => now.generation !== after && wake(now),
            () => {},
          );
      };
      let set = waiters.get(server);
      if (!set) waiters.set(server, (set = new Set()));
      set.add(waiter);
      const timer = setTimeout(() => wake("timeout"), Math.max(0, timeoutMs));
      const abandon = () => wake("abandoned");
      signal?.addEventListener("abort", abandon, { once: true });
      parked.add(abandon);
      try {
        // What this replica knows of the key is as fresh as its watch: a change still on its
        // way wakes the waiter registered above, and a broken stream wakes every waiter to
        // re-read. So a long poll costs no etcd read once the server is known here.
        const seen = known.get(server);
        const now = await resolve(seen ? parse(seen) : (await read(server)).state);
        if (now.generation !== after || timeoutMs <= 0 || signal?.aborted || stop.signal.aborted)
          return now;
        const outcome = await woken;
        // An abandoned poll (aborted, or this replica closing) has nobody to answer: no read.
        if (outcome === "abandoned") return now;
        return outcome === "timeout" ? resolve((await read(server)).state) : outcome;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", abandon);
        parked.delete(abandon);
        set.delete(waiter);
        if (set.size === 0 && waiters.get(server) === set) waiters.delete(server);
      }
    },

    tryLock: (name, owner, lockOptions = {}) =>
      lockOptions.durable
        ? acquireDurable(`${prefix}/locks/${name}`, name, owner)
        : acquire(`${prefix}/locks/${name}`, name, owner),

    async releaseLock(name, owner) {
      const key = `${prefix}/locks/${name}`;
      await client.txn([{ key, target: "VALUE", value: owner }], [{ delete: { key } }]);
    },

    lockOwner: async (name) => (await client.get(`${prefix}/locks/${name}`))?.value ?? null,

    async campaign(name, owner, signal) {
      const key = `${prefix}/leaders/${name}`;
      for (;;) {
        if (signal?.aborted)
          throw new StrataError("unavailable", `[coord] campaign ${name}: aborted`);
        const next = listen(key, signal);
        const lock = await acquire(key, name, owner).catch((err: unknown) => {
          next.cancel();
          throw err;
        });
        if (lock) {
          next.cancel();
          return lock;
        }
        await next.changed;
      }
    },

    async touch(member, memberTtlMs) {
      const key = `${MEMBERS}${member}`;
      const lease = memberLeases.get(member);
      if (lease && (await client.keepAlive(lease))) return;
      // Unknown here, or lapsed (etcd then deleted the key): bind a fresh lease, unless
      // another replica has just bound one; then renew that one.
      const fresh = await client.grant(memberTtlMs);
      const created = await client.txn(
        [{ key, target: "CREATE", revision: 0 }],
        [{ put: { key, value: String(Date.now()), lease: fresh } }],
        [{ range: { key } }],
      );
      if (created.succeeded) return void memberLeases.set(member, fresh);
      const bound = created.ranges[0]?.[0]?.lease ?? null;
      if (bound && bound !== lease && (await client.keepAlive(bound))) {
        memberLeases.set(member, bound);
        await client.revoke(fresh);
        return;
      }
      await client.put(key, String(Date.now()), fresh);
      memberLeases.set(member, fresh);
    },

    publishReport: (server, report) => batchedPut(`${REPORTS}${server}`, JSON.stringify(report)),

    subscribeReports(listener) {
      reportListeners.add(listener);
      return () => void reportListeners.delete(listener);
    },

    ...tasks.holds,
    ...tasks.channel,

    members: async () =>
      (await client.list(MEMBERS)).kvs.map((kv) => kv.key.slice(MEMBERS.length)).sort(),

    close: () =>
      (closing ??= (async () => {
        stop.abort();
        for (const abandon of [...parked]) abandon();
        await watching;
        // Hand locks, leaderships and holds over at once instead of after their TTL.
        await Promise.allSettled([...held].map((lock) => lock.release()));
        await tasks.close();
      })()),
  };
}

/** A unique owner name for this replica's locks and leaderships: `<host>-<pid>-<random>`. */
export function replicaId(host: string): string {
  return `${host}-${process.pid}-${randomBytes(3).toString("hex")}`;
}
