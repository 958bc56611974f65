import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { StrataError, messageOf } from "../../lib/errors.js";

/**
 * A small client for etcd v3's JSON gateway (`/v3/...`, etcd 3.4 and later):
 * plain HTTP + JSON over fetch, no gRPC. Keys and values travel base64
 * encoded and 64-bit integers as strings; this client hides both.
 * See https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/.
 */

export interface EtcdClientOptions {
  /** Client URLs of the cluster's members, tried in order, e.g. `http://127.0.0.1:2379`. */
  endpoints: string[];
  /** Longest wait for one unary request. @default 5000 */
  timeoutMs?: number;
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  lease: string | null;
}

export interface WatchEvent {
  type: "put" | "delete";
  kv: KeyValue;
}

/** A comparison of a transaction (etcd `Compare`). */
export type Compare =
  | { key: string; target: "CREATE" | "MOD" | "VERSION"; revision: number }
  | { key: string; target: "VALUE"; value: string };

/** An operation of a transaction (etcd `RequestOp`). */
export type Operation =
  | { put: { key: string; value: string; lease?: string } }
  | { delete: { key: string } }
  | { range: { key: string } };

interface RawKv {
  key: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : "");

/** The smallest key after every key that starts with `prefix` (etcd's `range_end` for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i]! += 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64");
}

function kvOf(raw: RawKv): KeyValue {
  return {
    key: unb64(raw.key),
    value: unb64(raw.value),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    lease: raw.lease && raw.lease !== "0" ? raw.lease : null,
  };
}

function compareOf(c: Compare): Record<string, unknown> {
  const base = { key: b64(c.key), target: c.target, result: "EQUAL" };
  switch (c.target) {
    case "CREATE":
      return { ...base, create_revision: String(c.revision) };
    case "MOD":
      return { ...base, mod_revision: String(c.revision) };
    case "VERSION":
      return { ...base, version: String(c.revision) };
    case "VALUE":
      return { ...base, value: b64(c.value) };
  }
}

function operationOf(op: Operation): Record<string, unknown> {
  if ("put" in op)
    return {
      request_put: {
        key: b64(op.put.key),
        value: b64(op.put.value),
        ...(op.put.lease ? { lease: op.put.lease } : {}),
      },
    };
  if ("delete" in op) return { request_delete_range: { key: b64(op.delete.key) } };
  return { request_range: { key: b64(op.range.key) } };
}

export class EtcdClient {
  readonly #endpoints: string[];
  readonly #timeoutMs: number;
  /** The endpoint that answered last; tried first next time. */
  #current = 0;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0)
      throw new StrataError("invalid_config", "[coord] etcd: no endpoints");
    this.#endpoints = options.endpoints.map((e) => e.replace(/\/+$/, ""));
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /** POSTs to every endpoint in turn until one answers; etcd errors are not retried elsewhere. */
  async call<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    let lastError: unknown;
    for (let i = 0; i < this.#endpoints.length; i++) {
      const index = (this.#current + i) % this.#endpoints.length;
      const url = `${this.#endpoints[index]}/v3/${path}`;
      let res: Response;
      try {
        const timeout = AbortSignal.timeout(this.#timeoutMs);
        res = await fetch(url, {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        if (signal?.aborted) throw err;
        lastError = err;
        continue;
      }
      this.#current = index;
      const text = await res.text();
      if (!res.ok) {
        throw new StrataError(
          res.status === 503 ? "unavailable" : "internal",
          `[coord] etcd ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`,
        );
      }
      return JSON.parse(text) as T;
    }
    throw new StrataError(
      "unavailable",
      `[coord] etcd ${path}: no endpoint answered (${this.#endpoints.join(", ")}): ${messageOf(lastError)}`,
      { cause: lastError },
    );
  }

  async get(key: string): Promise<KeyValue | null> {
    const res = await this.call<{ kvs?: RawKv[] }>("kv/range", { key: b64(key) });
    return res.kvs?.[0] ? kvOf(res.kvs[0]) : null;
  }

  /** Every key under `prefix`, and the store's revision the answer is at. */
  async list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    const res = await this.call<{ kvs?: RawKv[]; header: { revision: string } }>("kv/range", {
      key: b64(prefix),
      range_end: prefixEnd(prefix),
    });
    return { kvs: (res.kvs ?? []).map(kvOf), revision: Number(res.header.revision) };
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    const res = await this.call<{ header: { revision: string } }>("kv/put", {
      key: b64(key),
      value: b64(value),
      ...(lease ? { lease } : {}),
    });
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<void> {
    await this.call("kv/deleterange", { key: b64(key) });
  }

  /** If every comparison holds, runs `success`, else `failure`; returns which, and range results. */
  async txn(
    compare: Compare[],
    success: Operation[],
    failure: Operation[] = [],
  ): Promise<{ succeeded: boolean; revision: number; ranges: KeyValue[][] }> {
    const res = await this.call<{
      succeeded?: boolean;
      header: { revision: string };
      responses?: { response_range?: { kvs?: RawKv[] } }[];
    }>("kv/txn", {
      compare: compare.map(compareOf),
      success: success.map(operationOf),
      failure: failure.map(operationOf),
    });
    return {
      succeeded: res.succeeded === true,
      revision: Number(res.header.revision),
      ranges: (res.responses ?? []).map((r) => (r.response_range?.kvs ?? []).map(kvOf)),
    };
  }

  /** A lease of `ttlMs` (rounded up to whole seconds, at least 1 s); returns its id. */
  async grant(ttlMs: number): Promise<string> {
    const res = await this.call<{ ID: string }>("lease/grant", {
      TTL: String(Math.max(1, Math.ceil(ttlMs / 1000))),
    });
    return res.ID;
  }

  /** Renews a lease; false when it has expired (or never existed). */
  async keepAlive(lease: string): Promise<boolean> {
    const res = await this.call<{ result?: { TTL?: string } }>("lease/keepalive", { ID: lease });
    return Number(res.result?.TTL ?? 0) > 0;
  }

  /** Ends a lease and deletes its keys. Idempotent. */
  async revoke(lease: string): Promise<void> {
    try {
      await this.call("lease/revoke", { ID: lease });
    } catch (err) {
      // An expired lease is already gone (etcd answers "requested lease not found").
      if (!/lease not found/.test(messageOf(err))) throw err;
    }
  }

  /**
   * Streams every change under `prefix` from `startRevision` (inclusive) until
   * `signal` aborts (resolves) or the stream breaks (rejects; the caller
   * reconnects from the last revision it saw + 1). `onCompacted` reports a
   * start revision etcd no longer has.
   */
  async watch(
    prefix: string,
    startRevision: number,
    onEvents: (events: WatchEvent[], revision: number) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const body = JSON.stringify({
      create_request: {
        key: b64(prefix),
        range_end: prefixEnd(prefix),
        start_revision: String(startRevision),
      },
    });
    const url = new URL(`${this.#endpoints[this.#current]}/v3/watch`);
    // node:http, not fetch: fetch ends a body that is quiet for 300 s (undici's bodyTimeout),
    // and a watch on a quiet cluster is quiet for hours.
    let res: IncomingMessage;
    try {
      res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = (url.protocol === "https:" ? https : http).request(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          signal,
        });
        req.once("response", resolve);
        req.once("error", reject);
        req.end(body);
      });
    } catch (err) {
      this.#current = (this.#current + 1) % this.#endpoints.length;
      if (signal.aborted) return;
      throw new StrataError("unavailable", `[coord] etcd watch: ${messageOf(err)}`, { cause: err });
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new StrataError("unavailable", `[coord] etcd watch: HTTP ${res.statusCode}`);
    }
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of res) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) this.#dispatch(line, onEvents);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      throw new StrataError("unavailable", `[coord] etcd watch: ${messageOf(err)}`, { cause: err });
    }
    if (!signal.aborted) throw new StrataError("unavailable", "[coord] etcd watch: stream ended");
  }

  #dispatch(line: string, onEvents: (events: WatchEvent[], revision: number) => void): void {
    const message = JSON.parse(line) as {
      result?: {
        header?: { revision?: string };
        events?: { type?: string; kv: RawKv }[];
        canceled?: boolean;
        compact_revision?: string;
        cancel_reason?: string;
      };
      error?: { message?: string };
    };
    const result = message.result;
    if (message.error || !result)
      throw new StrataError("unavailable", `[coord] etcd watch: ${message.error?.message ?? line}`);
    if (result.canceled) {
      throw new StrataError(
        "unavailable",
        `[coord] etcd watch canceled: ${result.cancel_reason ?? ""} (compacted at ${result.compact_revision ?? "?"})`,
      );
    }
    if (!result.events?.length) return;
    onEvents(
      result.events.map((e) => ({ type: e.type === "DELETE" ? "delete" : "put", kv: kvOf(e.kv) })),
      Number(result.header?.revision ?? 0),
    );
  }
}
