import { useEffect, useRef, useState } from "preact/hooks";
import type { DashboardEvent, DashboardTopic, SessionView } from "../wire/dashboard.js";

/** The control plane refused the session (expired, or the server restarted). */
export class SignedOut extends Error {}

/** GET a JSON document of the API with the session cookie. */
export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  if (res.status === 401) {
    live.signedOut();
    throw new SignedOut("signed out");
  }
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body as T;
}

export async function session(): Promise<SessionView> {
  const res = await fetch("/v1/session", { credentials: "same-origin" });
  return (await res.json()) as SessionView;
}

/** Posts the admin token; the answer sets an HttpOnly session cookie. Returns an error text or null. */
export async function signIn(token: string): Promise<string | null> {
  const res = await fetch("/v1/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  if (res.ok) return null;
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  return body?.error?.message ?? `sign-in failed (${res.status})`;
}

export async function signOut(): Promise<void> {
  await fetch("/v1/session", { method: "DELETE", credentials: "same-origin" });
}

export type Connection = "connecting" | "live" | "reconnecting" | "signed-out";

type Listener = (event: DashboardEvent) => void;

/**
 * The one event stream of the page. EventSource reconnects by itself and sends
 * Last-Event-ID; the server replays what was missed, or sends `reset` when it
 * cannot, and every view then loads afresh.
 */
class Live {
  #source: EventSource | null = null;
  readonly #listeners = new Set<Listener>();
  readonly #states = new Set<(state: Connection) => void>();
  state: Connection = "connecting";

  start(): void {
    if (this.#source) return;
    const source = new EventSource("/v1/events");
    this.#source = source;
    const dispatch = (message: MessageEvent<string>) => {
      const event = JSON.parse(message.data) as DashboardEvent;
      for (const listener of this.#listeners) listener(event);
    };
    const topics: DashboardTopic[] = [
      "deployment",
      "server",
      "heartbeats",
      "image",
      "release",
      "forecast",
      "traffic",
      "scale",
      "audit",
      "reset",
    ];
    for (const topic of topics) source.addEventListener(topic, dispatch as EventListener);
    source.onopen = () => this.#set("live");
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        // Closed for good: a 401 (session gone) or a non-stream answer. Ask which.
        this.stop();
        void session().then(
          (s) => (s.signed_in ? setTimeout(() => this.start(), 1000) : this.signedOut()),
          () => setTimeout(() => this.start(), 1000),
        );
      }
      this.#set("reconnecting");
    };
  }

  stop(): void {
    this.#source?.close();
    this.#source = null;
  }

  signedOut(): void {
    this.stop();
    this.#set("signed-out");
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onState(listener: (state: Connection) => void): () => void {
    this.#states.add(listener);
    return () => this.#states.delete(listener);
  }

  #set(state: Connection): void {
    if (this.state === "signed-out" && state !== "live") return;
    this.state = state;
    for (const listener of this.#states) listener(state);
  }

  reset(): void {
    this.state = "connecting";
  }
}

export const live = new Live();

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/**
 * Loads `fetcher` now, again when `key` changes, and again after any live event
 * that `wants` (trailing, at most one request in flight): live views without polling.
 */
export function useLive<T>(
  fetcher: () => Promise<T>,
  wants: (event: DashboardEvent) => boolean,
  key: unknown[] = [],
): Loaded<T> & { reload: () => void } {
  const [state, setState] = useState<Loaded<T>>({ data: null, error: null, loading: true });
  const current = useRef({ fetcher, wants });
  current.current = { fetcher, wants };
  // `epoch` grows with every key change: an answer to an older key is dropped, not shown.
  const control = useRef({ inFlight: false, again: false, timer: 0, epoch: 0, run: () => {} });

  useEffect(() => {
    const c = control.current;
    const epoch = ++c.epoch;
    const fresh = () => c.epoch === epoch;
    c.run = () => {
      if (c.inFlight) {
        c.again = true;
        return;
      }
      c.inFlight = true;
      current.current
        .fetcher()
        .then(
          (data) => fresh() && setState({ data, error: null, loading: false }),
          (err: Error) =>
            fresh() &&
            !(err instanceof SignedOut) &&
            setState((s) => ({ ...s, error: err.message, loading: false })),
        )
        .finally(() => {
          c.inFlight = false;
          // A request deferred while this one ran goes out now, with the newest fetcher.
          if (c.again) {
            c.again = false;
            c.run();
          }
        });
    };
    setState((s) => ({ ...s, loading: true }));
    c.run();
    const unsubscribe = live.subscribe((event) => {
      if (event.topic !== "reset" && !current.current.wants(event)) return;
      clearTimeout(c.timer);
      c.timer = window.setTimeout(() => c.run(), 150);
    });
    return () => {
      c.epoch++;
      clearTimeout(c.timer);
      unsubscribe();
    };
  }, key);

  return { ...state, reload: () => control.current.run() };
}

export function useConnection(): Connection {
  const [state, setState] = useState<Connection>(live.state);
  useEffect(() => live.onState(setState), []);
  return state;
}

/** The current time, re-read every `everyMs` for ages ("12 s ago"); a render clock, not a fetch. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** Events that carry an audit entry. */
export function auditOf(event: DashboardEvent): { action: string; subject: string } | null {
  const audit = event.data.audit as { action: string; subject: string } | undefined;
  return audit ?? null;
}

/** Calls `listener` for every live event while the component is mounted. */
export function useEvents(listener: (event: DashboardEvent) => void): void {
  const current = useRef(listener);
  current.current = listener;
  useEffect(() => live.subscribe((event) => current.current(event)), []);
}
