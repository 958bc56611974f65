import type { ComponentChildren } from "preact";

/** How a state reads at a glance: a colour class, always with its text beside it. */
export type Tone = "ok" | "warn" | "bad" | "busy" | "idle";

const TONES: Record<string, Tone> = {
  ready: "ok",
  succeeded: "ok",
  active: "ok",
  ok: "ok",
  converged: "ok",
  in_service: "ok",
  stored: "ok",
  running: "busy",
  deploying: "busy",
  draining: "busy",
  launching: "busy",
  joined: "busy",
  queued: "busy",
  saving: "busy",
  working: "busy",
  rolling_back: "warn",
  rolled_back: "warn",
  skipped: "idle",
  pending: "idle",
  terminated: "idle",
  offline: "bad",
  failed: "bad",
  killed: "bad",
};

const ICONS: Record<Tone, string> = { ok: "●", warn: "▲", bad: "✕", busy: "◐", idle: "○" };

export function toneOf(state: string): Tone {
  return TONES[state] ?? "idle";
}

/** A state as colour, shape and text (never colour alone). */
export function Badge(props: { state: string; label?: string; tone?: Tone }) {
  const tone = props.tone ?? toneOf(props.state);
  return (
    <span class={`badge ${tone}`}>
      <span aria-hidden="true">{ICONS[tone]}</span> {props.label ?? props.state.replace(/_/g, " ")}
    </span>
  );
}

export function Panel(props: {
  title: string;
  actions?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <section class="panel" aria-label={props.title}>
      <header>
        <h2>{props.title}</h2>
        {props.actions ? <div class="actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

export function ErrorText(props: { error: string | null }) {
  return props.error ? (
    <p class="error" role="alert">
      {props.error}
    </p>
  ) : null;
}
