import { useMemo } from "preact/hooks";
import type uPlot from "uplot";
import type { ForecastOverview, ForecastsOverview } from "../../wire/dashboard.js";
import { getJson, useLive } from "../api.js";
import { Chart, timeAxis } from "../chart.js";
import { Empty, ErrorText, Panel } from "../components.js";
import { number, time } from "../format.js";

/** Per app: the latest forecast and its model, its backtest score, and yesterday's forecast against the day. */
export function ForecastsView() {
  const { data, error } = useLive(
    () => getJson<ForecastsOverview>("/v1/dashboard/forecasts"),
    (e) => e.topic === "forecast",
  );
  return (
    <div class="view">
      <ErrorText error={error} />
      {data && data.apps.length === 0 ? (
        <Panel title="Forecasts">
          <Empty>
            No apps with traffic yet. Ingest access logs with{" "}
            <code>strata ingest --app hello access.log</code>, then{" "}
            <code>strata forecast run hello</code>.
          </Empty>
        </Panel>
      ) : null}
      <div class="cards">
        {data?.apps.map((app) => (
          <AppForecast key={app.app} overview={app} />
        ))}
      </div>
    </div>
  );
}

function AppForecast(props: { overview: ForecastOverview }) {
  const { app, latest, backtest, yesterday } = props.overview;
  return (
    <Panel title={`Forecast of ${app}`}>
      {!latest ? (
        <Empty>
          No forecast yet: the daily run makes one, or <code>strata forecast run {app}</code>.
        </Empty>
      ) : (
        <div data-testid={`forecast-${app}`}>
          <dl class="facts">
            <dt>Model</dt>
            <dd>
              <span class="strong">{latest.model}</span>
              {latest.requested_model !== latest.model ? (
                <span class="muted"> (picked by {latest.requested_model})</span>
              ) : null}
            </dd>
            <dt>Backtest</dt>
            <dd>
              {backtest ? (
                `wMAPE ${(backtest.wmape * 100).toFixed(1)} % on ${app}'s own history`
              ) : (
                <span class="muted">not recorded with this forecast</span>
              )}
            </dd>
            <dt>Made</dt>
            <dd>
              {time(latest.created_at)} ({latest.trigger}), from {time(latest.origin)} for{" "}
              {latest.hours.length} h
            </dd>
            <dt>History</dt>
            <dd>
              {latest.history.hours_with_data} hours with data
              {latest.history.missing_hours > 0 ? `, ${latest.history.missing_hours} missing` : ""},
              zone {latest.zone}
            </dd>
            <dt>Next 24 h</dt>
            <dd>
              {number(latest.hours.slice(0, 24).reduce((s, h) => s + h.mean, 0))} requests expected,
              peak hour {number(Math.max(0, ...latest.hours.slice(0, 24).map((h) => h.p90)))} at p90
            </dd>
          </dl>
          <HourChart
            label={`Forecast of ${app}: mean and p90 per hour`}
            time={latest.hours.map((h) => Date.parse(h.time))}
            mean={latest.hours.map((h) => h.mean)}
            p90={latest.hours.map((h) => h.p90)}
            observed={null}
          />
        </div>
      )}
      <h3>Yesterday's forecast against what happened</h3>
      {!yesterday ? (
        <Empty>No forecast from 24 hours ago or earlier.</Empty>
      ) : yesterday.hours.length === 0 ? (
        <Empty>Made {time(yesterday.created_at)}; none of its hours has passed yet.</Empty>
      ) : (
        <div data-testid={`yesterday-${app}`}>
          <p>
            {yesterday.model}, made {time(yesterday.created_at)}:{" "}
            {yesterday.wape !== null ? (
              <strong>off by {(yesterday.wape * 100).toFixed(1)} % (WAPE)</strong>
            ) : (
              "no traffic to compare with"
            )}
            {yesterday.p90_coverage !== null
              ? `, ${(yesterday.p90_coverage * 100).toFixed(0)} % of hours at or under p90`
              : ""}
            .
          </p>
          <HourChart
            label={`Yesterday's forecast of ${app} against observed requests`}
            time={yesterday.hours.map((h) => h.time)}
            mean={yesterday.hours.map((h) => h.mean)}
            p90={yesterday.hours.map((h) => h.p90)}
            observed={yesterday.hours.map((h) => h.observed)}
          />
        </div>
      )}
    </Panel>
  );
}

function HourChart(props: {
  label: string;
  time: number[];
  mean: number[];
  p90: number[];
  observed: (number | null)[] | null;
}) {
  const data = useMemo<uPlot.AlignedData>(
    () => [
      props.time.map((t) => t / 1000),
      props.observed ?? props.time.map(() => null),
      props.mean,
      props.p90,
    ],
    [props.time, props.mean, props.p90, props.observed],
  );
  return (
    <Chart
      label={props.label}
      data={data}
      height={220}
      options={(width) => ({
        width,
        height: 220,
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [timeAxis, { label: "requests / hour", size: 64 }],
        series: [
          {},
          { label: "observed", stroke: "#1f5aa6", width: 2, show: props.observed !== null },
          { label: "mean", stroke: "#7b3fb0", width: 2, dash: [6, 4], points: { show: false } },
          { label: "p90", stroke: "rgba(123, 63, 176, 0.5)", width: 1, points: { show: false } },
        ],
        bands: [{ series: [3, 2], fill: "rgba(123, 63, 176, 0.16)" }],
      })}
    />
  );
}
