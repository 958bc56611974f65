import { rotateAgentToken, saveCredentials } from "../fleet/agent-credentials.js";
import type { Clock } from "../lib/clock.js";
import { ConfigError, messageOf, type StrataError } from "../lib/errors.js";
import { retry } from "../lib/retry.js";
import type { AgentReport, JoinResponse } from "../wire/agent.js";
import type { ControlPlaneClient } from "./control-plane-client.js";

export interface SessionOptions {
  client: ControlPlaneClient;
  /** Control plane URL, for logs. */
  server: string;
  joinToken?: string;
  name: string;
  group: string;
  address: string;
  /** agent.json goes here. */
  root: string;
  /** The release-signing key pinned at an earlier join (agent.json). */
  releaseKey?: string;
  /** The early boot's join (null: it failed): the first join() takes its answer rather than ask again. */
  firstJoin?: Promise<JoinResponse | null>;
  clock: Clock;
  log: (line: string) => void;
  signal: AbortSignal;
}

/** The agent's standing with the control plane: its token, retries, and the ordered report queue. */
export interface Session {
  /** Joins once at a time (concurrent callers share the attempt) and saves the token to agent.json. */
  join(): Promise<void>;
  /**
   * Calls `work` under the agent's one retry policy until it succeeds or the
   * agent stops; rejoins after a 401. Errors `retryable` refuses are rethrown.
   */
  retrying<T>(
    what: string,
    work: () => Promise<T>,
    retryable?: (err: unknown) => boolean,
  ): Promise<T>;
  /**
   * Queues a report behind the earlier ones. A final report (not `working`) is
   * retried while the failure is transient and the returned promise settles
   * when it is sent or lost; a lost `working` report only costs progress display.
   */
  report(report: AgentReport): Promise<void> | undefined;
  /** Swaps the agent token for a new one (saved before it is used); the heartbeat asks for it. */
  rotateToken(): Promise<void>;
  /** The control plane's release-signing key, pinned at the first join that offered one. */
  readonly releaseKey: string | null;
}

export function createSession(options: SessionOptions): Session {
  const { client, root, log, signal } = options;
  let joining: Promise<void> | null = null;
  let releaseKey = options.releaseKey ?? null;
  let firstJoin = options.firstJoin;
  let reports = Promise.resolve();
  const save = (token: string) =>
    saveCredentials(root, {
      name: options.name,
      token,
      ...(releaseKey ? { release_key: releaseKey } : {}),
    });

  const session: Session = {
    join: () =>
      (joining ??= (async () => {
        if (!options.joinToken) {
          throw new ConfigError(
            "joinToken",
            `[agent] no token in ${root}/agent.json, no join token`,
          );
        }
        const { name, group, address } = options;
        const early = await firstJoin; // join() runs once at a time: no other caller takes it
        firstJoin = undefined;
        const res =
          early ??
          (await client.join({ join_token: options.joinToken, name, group, address }, signal));
        client.setToken(res.token);
        if (res.release_key && releaseKey && res.release_key !== releaseKey) {
          log("[agent] join: the control plane offers another release key; keeping the pinned one");
        }
        releaseKey ??= res.release_key ?? null;
        await save(res.token);
        log(`[agent] joined ${options.server} as ${name}${early ? " (sent at its boot)" : ""}`);
      })().finally(() => (joining = null))),

    rotateToken: () =>
      rotateAgentToken(
        {
          issue: async () => (await client.rotateToken(signal)).token,
          save,
          use: (token) => client.setToken(token),
        },
        root,
      ).then(() => log("[agent] rotated its token")),

    retrying: (what, work, retryable = (err) => !(err instanceof ConfigError)) =>
      retry(work, {
        clock: options.clock,
        signal,
        retryable,
        baseDelayMs: 500,
        maxDelayMs: 30_000,
        onRetry: async (err) => {
          log(`${messageOf(err)} (${what}: retrying)`);
          if ((err as StrataError).code === "unauthorized" && options.joinToken) {
            await session.join().catch((joinErr) => log(`[agent] join: ${messageOf(joinErr)}`));
          }
        },
      }),

    report(next) {
      const send = () => client.report(next, signal);
      const working = next.phase === "working";
      reports = reports.then(() =>
        (working ? send() : session.retrying("report", send, isTransient)).catch(
          (err) => void (!working && log(`[agent] report lost: ${messageOf(err)}`)),
        ),
      );
      return working ? undefined : reports;
    },

    get releaseKey() {
      return releaseKey;
    },
  };
  return session;
}

function isTransient(err: unknown): boolean {
  const code = (err as StrataError).code;
  return code === undefined || ["unavailable", "unauthorized", "internal"].includes(code);
}
