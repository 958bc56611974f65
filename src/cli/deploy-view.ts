import type {
  DeploymentEvent,
  DeploymentServerView,
  DeploymentView,
  StepReport,
} from "../wire/deployment.js";
import { table } from "./output.js";

/** Where progress goes: stderr, or a test's buffer. */
export interface ProgressOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Shows a deployment's progress: a compact live table on a terminal, one line
 * per change otherwise. It never prints the outcome: the command prints that
 * once, on stdout (so a log that takes both streams has it once).
 */
export interface DeployProgress {
  event(event: DeploymentEvent): void;
}

export function createDeployProgress(
  out: ProgressOut = process.stderr,
  now: () => number = Date.now,
): DeployProgress {
  return out.isTTY ? liveView(out) : plainView(out, now);
}

/** A view that shows nothing (`--json`). */
export const QUIET: DeployProgress = { event() {} };

/**
 * The wave running now, from a snapshot: the CLI subscribes after the
 * deployment started, so the first `wave` event may have gone by.
 */
export function currentWave(d: DeploymentView): number {
  const started = d.servers.filter((s) => s.wave > 0 && s.state !== "pending");
  return Math.max(0, ...started.map((s) => s.wave));
}

function stepText(step: StepReport | undefined): string {
  if (!step) return "";
  const took = step.duration_ms !== null ? ` ${step.duration_ms} ms` : "";
  return `${step.name} ${step.state}${took}${step.error ? `: ${step.error}` : ""}`;
}

function plainView(out: ProgressOut, now: () => number): DeployProgress {
  const started = now();
  const stamp = () => `[${((now() - started) / 1000).toFixed(1).padStart(5)}s]`;
  // Agents resend their steps with every report: print a server's line only when it changes.
  const shown = new Map<string, string>();
  const server = (name: string, state: string, step?: StepReport) => {
    const text = `${state}${step ? ` ${stepText(step)}` : ""}`;
    if (shown.get(name) === text) return;
    shown.set(name, text);
    out.write(`${stamp()}   ${name}: ${text}\n`);
  };
  const wave = (n: number, servers: string[]) =>
    out.write(`${stamp()} wave ${n}: ${servers.join(", ")}\n`);
  return {
    event(event) {
      switch (event.type) {
        case "snapshot": {
          const d = event.deployment;
          out.write(
            `${stamp()} deployment ${d.id}: ${d.app}@${d.version} -> ${d.group} (${d.strategy}, ${d.waves} wave(s))\n`,
          );
          const current = currentWave(d);
          for (let n = 1; n <= current; n++) {
            const members = d.servers.filter((s) => s.wave === n);
            wave(
              n,
              members.map((s) => s.name),
            );
            for (const s of members) server(s.name, s.state, s.steps.at(-1));
          }
          break;
        }
        case "wave":
          wave(event.wave, event.servers);
          break;
        case "server":
          if (event.step?.state === "running") break;
          server(event.server, event.state, event.step);
          break;
        case "done":
          for (const s of event.deployment.servers)
            if (s.state === "skipped") server(s.name, s.state);
          break;
      }
    },
  };
}

function liveView(out: ProgressOut): DeployProgress {
  let deployment: DeploymentView | null = null;
  const rows = new Map<string, { wave: number; state: string; step: string }>();
  let drawn = 0;
  let wave = 0;
  const draw = () => {
    if (!deployment) return;
    const lines = [
      `${deployment.app}@${deployment.version} -> ${deployment.group}  ${deployment.strategy}  wave ${wave}/${deployment.waves}`,
      ...[...rows].map(
        ([name, r]) =>
          `  ${r.wave ? `w${r.wave}` : "--"}  ${name.padEnd(14)} ${r.state.padEnd(12)} ${r.step}`,
      ),
    ];
    if (drawn) out.write(`\x1b[${drawn}A`);
    for (const line of lines) out.write(`\x1b[2K${line.slice(0, (out.columns || 100) - 1)}\n`);
    drawn = lines.length;
  };
  const load = (d: DeploymentView) => {
    deployment = d;
    wave = Math.max(wave, currentWave(d));
    for (const s of d.servers)
      rows.set(s.name, { wave: s.wave, state: s.state, step: stepText(s.steps.at(-1)) || "" });
  };
  return {
    event(event) {
      if (event.type === "snapshot" || event.type === "done") load(event.deployment);
      else if (event.type === "wave") wave = event.wave;
      else {
        const row = rows.get(event.server) ?? { wave: 0, state: "", step: "" };
        row.state = event.state;
        if (event.step) row.step = stepText(event.step);
        rows.set(event.server, row);
      }
      draw();
    },
  };
}

/** The one-line outcome, printed once on stdout. */
export function summary(d: DeploymentView): string {
  const took = d.finished_at
    ? ` in ${((Date.parse(d.finished_at) - Date.parse(d.created_at)) / 1000).toFixed(1)} s`
    : "";
  // Regression: a deploy to a group whose servers had not joined said only "succeeded in 0.0 s".
  const none =
    d.state === "succeeded" && !d.servers.some((s) => s.wave > 0)
      ? `; no server took part (${d.servers.length} offline or not joined): the desired release is set and servers run it once they join`
      : "";
  return `deployment ${d.id} ${d.state}${took}${d.error ? `: ${d.error}` : ""}${none}`;
}

export function deploymentsTable(list: DeploymentView[]): string {
  return table(
    ["ID", "KIND", "APP", "VERSION", "GROUP", "STRATEGY", "STATE", "CREATED"],
    list.map((d) => [d.id, d.kind, d.app, d.version, d.group, d.strategy, d.state, d.created_at]),
  );
}

/** `strata deployments show`: each server with its wave, state and steps, then the outcome. */
export function deploymentText(d: DeploymentView): string {
  const lines: string[] = [];
  const server = (s: DeploymentServerView) => {
    lines.push(`${s.name} (wave ${s.wave}) ${s.state}${s.error ? `: ${s.error}` : ""}`);
    const steps = s.steps
      .map((x) => `${x.name} ${x.state}${x.duration_ms !== null ? ` ${x.duration_ms}ms` : ""}`)
      .join(", ");
    if (steps) lines.push(`  ${steps}`);
  };
  d.servers.forEach(server);
  lines.push(summary(d));
  return lines.join("\n");
}
