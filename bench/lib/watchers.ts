/**
 * Worker thread of bench/wakeup.bench.ts: many lightweight long-poll watchers, each
 * authenticated as its own server, on their own event loop so that reading the answers does
 * not compete with the control plane they measure. Timestamps are `process.hrtime` (one
 * monotonic clock for every thread of the process).
 *
 * Messages in: `{ type: "arm" }` reads every watcher's generation, then parks a long poll
 * `GET /v1/agents/desired?after=G&wait=S` for each. Out: `{ type: "armed" }` once every long
 * poll is on the wire, then `{ type: "result", results }` once every poll has answered.
 */
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";

export interface WatcherData {
  url: string;
  tokens: string[];
  waitSeconds: number;
}

/** One watcher's answer: when it arrived (hrtime ns) and the generation it saw. */
export interface WatcherResult {
  after: number;
  generation: number;
  at_ns: number;
  error?: string;
}

export type WatcherMessage =
  { type: "armed"; armed: number; errors: string[] } | { type: "result"; results: WatcherResult[] };

const data = workerData as WatcherData;
const base = new URL(data.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: data.tokens.length + 16 });

function desired(
  token: string,
  after: number,
  waitSeconds: number,
  onSent?: () => void,
): Promise<{ generation: number; at_ns: number }> {
  return new Promise((resolve, reject) => {
    let sent = false;
    const notify = () => {
      if (sent) return;
      sent = true;
      onSent?.();
    };
    const req = http.get(
      {
        host: base.hostname,
        port: base.port,
        path: `/v1/agents/desired?after=${after}&wait=${waitSeconds}`,
        headers: { authorization: `Bearer ${token}` },
        agent,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          const at_ns = Number(process.hrtime.bigint());
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${body}`));
          resolve({ generation: (JSON.parse(body) as { generation: number }).generation, at_ns });
        });
        res.on("error", reject);
      },
    );
    req.on("finish", notify);
    req.on("error", (err) => {
      notify();
      reject(err);
    });
  });
}

/** Runs `work` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function arm(): Promise<void> {
  const port = parentPort!;
  const errors: string[] = [];
  const after = new Array<number>(data.tokens.length).fill(-1);
  await eachLimited([...data.tokens.keys()], 64, async (i) => {
    try {
      after[i] = (await desired(data.tokens[i]!, -1, 0)).generation;
    } catch (err) {
      errors.push((err as Error).message);
    }
  });
  let sent = 0;
  const polls = data.tokens.map((token, i) =>
    desired(token, after[i]!, data.waitSeconds, () => {
      if (++sent === data.tokens.length) {
        port.postMessage({ type: "armed", armed: sent, errors } satisfies WatcherMessage);
      }
    }).then(
      (answer): WatcherResult => ({ after: after[i]!, ...answer }),
      (err: Error): WatcherResult => ({
        after: after[i]!,
        generation: after[i]!,
        at_ns: Number(process.hrtime.bigint()),
        error: err.message,
      }),
    ),
  );
  const results = await Promise.all(polls);
  port.postMessage({ type: "result", results } satisfies WatcherMessage);
}

parentPort!.on("message", (message: { type: string }) => {
  if (message.type === "arm") void arm();
  if (message.type === "close") {
    agent.destroy();
    parentPort!.close();
  }
});
