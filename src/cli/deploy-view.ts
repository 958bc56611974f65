import type { DeploymentEvent, DeploymentView } from "../wire/deployment.js";

/** Shows a deployment's progress: a compact live table on a terminal, plain lines otherwise (stderr). */
export interface DeployProgress {
  event(event: DeploymentEvent): void;
  close(): void;
}

export function createDeployProgress(out: NodeJS.WriteStream = process.stderr): DeployProgress {
  return out.isTTY ? liveView(out) : plainView(out);
}

function plainView(out: NodeJS.WriteStream): DeployProgress {
  const started = Date.now();
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
  return {
    event(event) {
      switch (event.type) {
        case "snapshot": {
          const d = event.deployment;
          out.write(
            `${stamp()} deployment ${d.id}: ${d.app}@${d.version} -> ${d.group} (${d.strategy}, ${d.waves} wave(s))\n`,
          );
          // The first wave may have started before this view subscribed.
          const started = d.servers.filter((x) => x.wave > 0 && x.state !== "pending");
          const wave = Math.max(0, ...started.map((x) => x.wave));
          if (d.state === "running" && wave > 0) {
            const names = d.servers.filter((x) => x.wave === wave).map((x) => x.name);
            out.write(`${stamp()} wave ${wave}: ${names.join(", ")}\n`);
          }
          break;
        }
        case "wave":
          out.write(`${stamp()} wave ${event.wave}: ${event.servers.join(", ")}\n`);
          break;
        case "server": {
          if (event.step?.state === "running") break;
          const step = event.step
            ? ` ${event.step.name} ${event.step.state}${event.step.duration_ms !== null ? ` ${event.step.duration_ms} ms` : ""}${event.step.error ? `: ${event.step.error}` : ""}`
            : "";
          out.write(`${stamp()}   ${event.server}: ${event.state}${step}\n`);
          break;
        }
        case "done":
          out.write(`${stamp()} ${summary(event.deployment)}\n`);
          break;
      }
    },
    close() {},
  };
}

function liveView(out: NodeJS.WriteStream): DeployProgress {
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
  return {
    event(event) {
      if (event.type === "snapshot" || event.type === "done") {
        deployment = event.deployment;
        for (const s of event.deployment.servers) {
          const last = s.steps.at(-1);
          rows.set(s.name, {
            wave: s.wave,
            state: s.state,
            step: last ? `${last.name} ${last.state}` : (s.error ?? ""),
          });
        }
      } else if (event.type === "wave") {
        wave = event.wave;
      } else {
        const row = rows.get(event.server) ?? { wave: 0, state: "", step: "" };
        row.state = event.state;
        if (event.step)
          row.step = `${event.step.name} ${event.step.state}${event.step.duration_ms !== null ? ` ${event.step.duration_ms} ms` : ""}`;
        rows.set(event.server, row);
      }
      draw();
      if (event.type === "done") out.write(summary(event.deployment) + "\n");
    },
    close() {},
  };
}

export function summary(d: DeploymentView): string {
  const took = d.finished_at
    ? ` in ${((Date.parse(d.finished_at) - Date.parse(d.created_at)) / 1000).toFixed(1)} s`
    : "";
  return `deployment ${d.id} ${d.state}${took}${d.error ? `: ${d.error}` : ""}`;
}
