import type { DeploymentServerView, DeploymentView, StepReport } from "../../wire/deployment.js";
import { getJson, useLive, useNow } from "../api.js";
import { Badge, Empty, ErrorText, Panel, toneOf } from "../components.js";
import { duration, shortId, time } from "../format.js";

/** History of deployments, and the selected (or running) one live: waves, servers, steps. */
export function DeploymentsView(props: { selected: string | null }) {
  const list = useLive(
    () => getJson<{ deployments: DeploymentView[] }>("/v1/deployments?limit=50"),
    // Starts and ends (audit entries); progress only reloads the one shown in detail.
    (e) => e.topic === "deployment" && e.data.audit !== undefined,
  );
  const deployments = list.data?.deployments ?? [];
  const selectedId =
    props.selected ?? deployments.find((d) => d.state === "running")?.id ?? deployments[0]?.id;
  const now = useNow(1000);

  return (
    <div class="view two">
      <Panel title="Deployments">
        <ErrorText error={list.error} />
        {list.data && deployments.length === 0 ? (
          <Empty>
            No deployments yet. Start one with <code>strata deploy hello@1.0.0 --group web</code>.
          </Empty>
        ) : (
          <table aria-label="Deployment history">
            <thead>
              <tr>
                <th>State</th>
                <th>Version</th>
                <th>Group</th>
                <th>Started</th>
                <th>Took</th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => (
                <tr
                  key={d.id}
                  class={d.id === selectedId ? "selected" : ""}
                  data-deployment={d.id}
                  data-state={d.state}
                >
                  <td>
                    <Badge state={d.state} />
                  </td>
                  <td>
                    <a href={`#/deployments/${d.id}`} aria-current={d.id === selectedId}>
                      {d.app}@{d.version}
                    </a>
                    {d.kind === "rollback" ? <span class="muted"> (rollback)</span> : null}
                  </td>
                  <td>{d.group}</td>
                  <td>{time(d.created_at)}</td>
                  <td>{took(d, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      {selectedId ? <DeploymentDetail id={selectedId} now={now} /> : null}
    </div>
  );
}

function took(d: DeploymentView, now: number): string {
  const end = d.finished_at ? Date.parse(d.finished_at) : now;
  return duration(end - Date.parse(d.created_at)) + (d.finished_at ? "" : " so far");
}

function DeploymentDetail(props: { id: string; now: number }) {
  const { id, now } = props;
  const { data: d, error } = useLive(
    () => getJson<DeploymentView>(`/v1/deployments/${encodeURIComponent(id)}`),
    (e) =>
      (e.topic === "deployment" && (e.data.deployment === id || e.data.audit !== undefined)) ||
      (e.topic === "server" && e.data.step !== undefined),
    [id],
  );
  if (!d) return <Panel title="Deployment">{error ? <ErrorText error={error} /> : null}</Panel>;
  const waves = new Map<number, DeploymentServerView[]>();
  for (const s of d.servers) waves.set(s.wave, [...(waves.get(s.wave) ?? []), s]);
  const done = d.servers.filter((s) => s.state === "succeeded").length;
  const rollingBack = d.servers.some(
    (s) => s.state === "rolling_back" || s.state === "rolled_back",
  );

  return (
    <Panel
      title={`${d.kind === "rollback" ? "Rollback" : "Deployment"} ${d.app}@${d.version} to ${d.group}`}
      actions={<Badge state={d.state} />}
    >
      <div data-testid="deployment-detail" data-state={d.state}>
        <ErrorText error={error} />
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <Badge state={d.state} />{" "}
            <span aria-live="polite">
              {done} of {d.servers.filter((s) => s.state !== "skipped").length} servers done
            </span>
          </dd>
          <dt>Release</dt>
          <dd class="mono" title={d.release}>
            {shortId(d.release)}
            {d.previous_release ? (
              <span class="muted"> (was {shortId(d.previous_release)})</span>
            ) : null}
          </dd>
          <dt>Strategy</dt>
          <dd>
            {d.strategy}, {d.waves} wave{d.waves === 1 ? "" : "s"}
          </dd>
          <dt>Started</dt>
          <dd>{time(d.created_at)}</dd>
          <dt>Took</dt>
          <dd>{took(d, now)}</dd>
          <dt>Id</dt>
          <dd class="mono">{d.id}</dd>
        </dl>
        {d.error ? <p class="error">{d.error}</p> : null}
        {rollingBack || d.state === "rolled_back" ? (
          <p class="error" role="status">
            Rolled back: servers switched by this deployment return to{" "}
            <span class="mono">{shortId(d.previous_release)}</span>.
          </p>
        ) : null}
        <div class="waves">
          {[...waves.entries()]
            .sort(([a], [b]) => (a === 0 ? 1 : b === 0 ? -1 : a - b))
            .map(([wave, servers]) => (
              <div class="wave" key={wave}>
                <h4>
                  {wave === 0 ? "Skipped (unreachable)" : `Wave ${wave}`}{" "}
                  <span class="muted">({servers.length})</span>
                </h4>
                <table>
                  <tbody>
                    {servers.map((s) => (
                      <ServerRow key={s.name} server={s} finished={d.state !== "running"} />
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
        </div>
      </div>
    </Panel>
  );
}

function ServerRow(props: { server: DeploymentServerView; finished: boolean }) {
  const s = props.server;
  const unreached = props.finished && s.state === "pending";
  const failed = s.steps.filter((step) => step.state === "failed");
  return (
    <tr data-deploy-server={s.name} data-state={s.state}>
      <td class="mono strong" style={{ width: "90px" }}>
        {s.name}
      </td>
      <td style={{ width: "130px" }}>
        {unreached ? <Badge state="skipped" label="not reached" /> : <Badge state={s.state} />}
      </td>
      <td>
        <div class="steps" aria-label={`steps of ${s.name}`}>
          {s.steps.length === 0 ? (
            <span class="muted">
              {unreached ? "the deployment stopped before it" : "no steps yet"}
            </span>
          ) : null}
          {s.steps.map((step) => (
            <Step key={step.name + step.started_at} step={step} />
          ))}
        </div>
        {s.error ? <p class="bad-text">{s.error}</p> : null}
        {failed.map((step) =>
          step.output || step.error ? (
            <details open key={step.name}>
              <summary>output of {step.name}</summary>
              <pre class="output">{[step.error, step.output].filter(Boolean).join("\n")}</pre>
            </details>
          ) : null,
        )}
      </td>
    </tr>
  );
}

function Step(props: { step: StepReport }) {
  const { step } = props;
  const tone = step.state === "ok" ? "ok" : step.state === "failed" ? "bad" : toneOf(step.state);
  const mark =
    step.state === "ok"
      ? "✓"
      : step.state === "failed"
        ? "✕"
        : step.state === "skipped"
          ? "–"
          : "…";
  return (
    <span
      class={`step ${tone}`}
      title={`${step.name}: ${step.state}, started ${time(step.started_at)}`}
    >
      {mark} {step.name} {step.duration_ms !== null ? duration(step.duration_ms) : step.state}
    </span>
  );
}
