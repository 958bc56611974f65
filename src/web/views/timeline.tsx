import { useMemo, useState } from "preact/hooks";
import uPlot from "uplot";
import type { StepSeries, TimelineView as Timeline } from "../../wire/dashboard.js";
import type { StatusView } from "../../wire/server.js";
import { getJson, useLive } from "../api.js";
import { Chart, timeAxis } from "../chart.js";
import { Badge, Empty, ErrorText, Panel } from "../components.js";
import { duration, number, time } from "../format.js";

const HOUR = 3600;
const DAY = 24 * HOUR;

const COLORS = {
  observed: "#1f5aa6",
  mean: "#7b3fb0",
  band: "rgba(123, 63, 176, 0.16)",
  inService: "#1d7a3e",
  planned: "#b06a00",
  now: "rgba(90, 90, 90, 0.8)",
  event: "rgba(240, 170, 30, 0.14)",
  deploy: {
    running: "rgba(31, 90, 166, 0.20)",
    succeeded: "rgba(29, 122, 62, 0.16)",
    failed: "rgba(179, 38, 30, 0.22)",
    rolled_back: "rgba(200, 120, 0, 0.22)",
  },
  launch: "#1d7a3e",
  terminate: "#b3261e",
};

interface Range {
  min: number;
  max: number;
}

/** The default window: the last 7 days and the next 48 hours (seconds). */
function defaultRange(): Range {
  const now = Math.floor(Date.now() / 1000);
  return { min: now - 7 * DAY, max: now + 2 * DAY };
}

/** The landing view: one group's traffic, forecast, servers, deploys and events on one time axis. */
export function TimelineView(props: { group: string | null }) {
  const groups = useLive(
    () => getJson<StatusView>("/v1/status"),
    (e) => e.topic === "deployment" && e.data.audit !== undefined,
  );
  const names = (groups.data?.groups ?? []).map((g) => g.name);
  const group = props.group ?? names[0] ?? null;
  const [range, setRange] = useState<Range>(defaultRange);
  const query = new URLSearchParams({
    from: new Date(range.min * 1000).toISOString(),
    to: new Date(range.max * 1000).toISOString(),
  });
  const { data, error } = useLive(
    async () =>
      group ? getJson<Timeline>(`/v1/dashboard/timeline?group=${group}&${query}`) : null,
    // Entries that move a line or a mark, not every agent report.
    (e) =>
      (e.topic === "traffic" && e.data.group === group) ||
      (["deployment", "server", "forecast", "scale"].includes(e.topic) &&
        e.data.audit !== undefined),
    [group, range.min, range.max],
  );

  const zoom = (factor: number) => {
    const mid = (range.min + range.max) / 2;
    const half = Math.max(HOUR, ((range.max - range.min) * factor) / 2);
    setRange({ min: Math.round(mid - half), max: Math.round(mid + half) });
  };
  const pan = (share: number) => {
    const shift = Math.round((range.max - range.min) * share);
    setRange({ min: range.min + shift, max: range.max + shift });
  };

  if (groups.data && !group) {
    return (
      <div class="view">
        <Panel title="Timeline">
          <Empty>
            No groups yet. Start servers with <code>strata fleet up --group web --count 3</code>.
          </Empty>
        </Panel>
      </div>
    );
  }

  return (
    <div class="view">
      <Panel
        title={`Timeline${group ? ` of ${group}` : ""}${data?.app ? ` (app ${data.app})` : ""}`}
        actions={
          <>
            {names.length > 1 ? (
              <label>
                Group{" "}
                <select
                  value={group ?? ""}
                  onChange={(e) =>
                    (location.hash = `#/timeline/${(e.target as HTMLSelectElement).value}`)
                  }
                >
                  {names.map((n) => (
                    <option key={n}>{n}</option>
                  ))}
                </select>
              </label>
            ) : null}
            <div class="actions" role="group" aria-label="Zoom and pan">
              <button type="button" onClick={() => pan(-0.5)} aria-label="Pan earlier">
                ◀ earlier
              </button>
              <button type="button" onClick={() => zoom(0.5)} aria-label="Zoom in">
                + zoom in
              </button>
              <button type="button" onClick={() => zoom(2)} aria-label="Zoom out">
                − zoom out
              </button>
              <button type="button" onClick={() => pan(0.5)} aria-label="Pan later">
                later ▶
              </button>
              <button type="button" onClick={() => setRange(defaultRange())}>
                7 days + 48 h
              </button>
              <button
                type="button"
                onClick={() => {
                  const now = Math.floor(Date.now() / 1000);
                  setRange({ min: now - 6 * HOUR, max: now + 2 * HOUR });
                }}
              >
                last 6 h
              </button>
            </div>
          </>
        }
      >
        <ErrorText error={error ?? groups.error} />
        <p class="muted">
          Drag across the chart to zoom; with the chart focused, ← → pan, + − zoom, 0 resets.{" "}
          {time(range.min * 1000)} to {time(range.max * 1000)}
          {data ? `, ${data.step_ms === 60_000 ? "per minute" : "hourly averages"}` : ""}.
        </p>
        {data ? (
          <TimelineChart
            data={data}
            range={range}
            onRange={setRange}
            onKey={(key) => {
              if (key === "ArrowLeft") pan(-0.25);
              else if (key === "ArrowRight") pan(0.25);
              else if (key === "+" || key === "=") zoom(0.5);
              else if (key === "-") zoom(2);
              else if (key === "0") setRange(defaultRange());
              else return false;
              return true;
            }}
          />
        ) : (
          <div class="chart timeline-chart" />
        )}
        {data ? <Legend data={data} /> : null}
      </Panel>
      {data ? <Happenings data={data} /> : null}
    </div>
  );
}

function Legend(props: { data: Timeline }) {
  const { data } = props;
  const latest = data.observed.rpm[data.observed.rpm.length - 1];
  return (
    <div class="legend" data-testid="timeline-legend">
      <span data-testid="legend-observed">
        <span class="swatch" style={{ background: COLORS.observed }} />
        observed requests/min: {data.observed.time.length} points
        {latest !== undefined ? `, latest ${number(latest, 1)}` : ""}
      </span>
      <span data-testid="legend-forecast">
        <span
          class="swatch"
          style={{ background: COLORS.band, border: `2px solid ${COLORS.mean}` }}
        />
        {data.forecast
          ? `forecast mean and p90 band (${data.forecast.model}, from ${time(data.forecast.origin)})`
          : "no forecast yet"}
      </span>
      <span>
        <span class="swatch" style={{ background: COLORS.inService }} />
        servers in service: {data.in_service.count[data.in_service.count.length - 1] ?? 0}
      </span>
      <span data-testid="legend-planned">
        <span class="swatch" style={{ background: COLORS.planned }} />
        {data.planned ? "servers planned" : "servers planned: no plan yet"}
      </span>
      <span>
        <span class="swatch" style={{ background: COLORS.deploy.succeeded }} />
        deployments ({data.deployments.length})
      </span>
      <span>
        <span class="swatch" style={{ background: COLORS.event }} />
        known events ({data.events.length})
      </span>
    </div>
  );
}

/** Deployments, launches and terminations as text: what the chart marks, readable and focusable. */
function Happenings(props: { data: Timeline }) {
  const { data } = props;
  const rows = [
    ...data.deployments.map((d) => ({
      at: d.from,
      key: `d${d.id}`,
      what: (
        <>
          <Badge state={d.state} /> {d.kind} {d.version}
          {d.to ? ` (${duration(d.to - d.from)})` : " (running)"}{" "}
          <a href={`#/deployments/${d.id}`}>details</a>
        </>
      ),
    })),
    ...data.servers.map((s) => ({
      at: s.time,
      key: `s${s.time}${s.server}${s.action}`,
      what: (
        <>
          <Badge state={s.action === "launch" ? "ok" : "bad"} label={s.action} /> {s.server}:{" "}
          {s.reason}
        </>
      ),
    })),
    ...data.events.map((e) => ({
      at: e.from,
      key: `e${e.id}`,
      what: (
        <>
          <Badge state="event" tone="warn" label="event" /> ×{e.factor} until {time(e.to)} {e.note}
        </>
      ),
    })),
  ].sort((a, b) => b.at - a.at);
  return (
    <Panel title="On this timeline">
      {rows.length === 0 ? (
        <Empty>No deployments, launches or events in this range.</Empty>
      ) : (
        <table aria-label="Deployments, launches and events">
          <tbody>
            {rows.slice(0, 200).map((r) => (
              <tr key={r.key}>
                <td style={{ whiteSpace: "nowrap", width: "160px" }}>{time(r.at)}</td>
                <td>{r.what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

/** Merges the timeline's series onto one x axis (seconds); step series hold between points. */
function align(data: Timeline): uPlot.AlignedData {
  const xs = new Set<number>();
  const sec = (ms: number) => Math.round(ms / 1000);
  for (const t of data.observed.time) xs.add(sec(t));
  for (const t of data.forecast?.time ?? []) xs.add(sec(t));
  for (const t of data.in_service.time) xs.add(sec(t));
  for (const t of data.planned?.time ?? []) xs.add(sec(t));
  xs.add(sec(data.from));
  xs.add(sec(data.to));
  const x = [...xs].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const column = () => new Array<number | null>(x.length).fill(null);
  const observed = column();
  data.observed.time.forEach((t, i) => (observed[index.get(sec(t))!] = data.observed.rpm[i]!));
  const mean = column();
  const p90 = column();
  data.forecast?.time.forEach((t, i) => {
    mean[index.get(sec(t))!] = data.forecast!.mean[i]!;
    p90[index.get(sec(t))!] = data.forecast!.p90[i]!;
  });
  const steps = (series: StepSeries | null) => {
    const out = column();
    if (!series || series.time.length === 0) return out;
    const first = index.get(sec(series.time[0]!))!;
    const last = index.get(sec(series.time[series.time.length - 1]!))!;
    let value: number | null = null;
    let next = 0;
    for (let i = first; i <= last; i++) {
      while (next < series.time.length && sec(series.time[next]!) <= x[i]!) {
        value = series.count[next]!;
        next++;
      }
      out[i] = value;
    }
    return out;
  };
  return [x, observed, mean, p90, steps(data.in_service), steps(data.planned)];
}

function TimelineChart(props: {
  data: Timeline;
  range: Range;
  onRange: (range: Range) => void;
  onKey: (key: string) => boolean;
}) {
  const { data } = props;
  const aligned = useMemo(() => align(data), [data]);
  const marks = useMemo(() => ({ current: data }), []);
  marks.current = data;
  const stepped = uPlot.paths.stepped!({ align: 1 });

  const options = (width: number): uPlot.Options => ({
    width,
    height: 380,
    scales: {
      x: { time: true },
      rpm: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      servers: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil(max * 1.25))] },
    },
    axes: [
      timeAxis,
      { scale: "rpm", label: "requests / min", size: 60 },
      { scale: "servers", side: 1, label: "servers", grid: { show: false }, size: 50 },
    ],
    series: [
      {},
      {
        label: "observed req/min",
        scale: "rpm",
        stroke: COLORS.observed,
        width: 1.5,
        spanGaps: false,
      },
      {
        label: "forecast mean",
        scale: "rpm",
        stroke: COLORS.mean,
        width: 2,
        dash: [6, 4],
        spanGaps: true,
      },
      {
        label: "forecast p90",
        scale: "rpm",
        stroke: "rgba(123, 63, 176, 0.5)",
        width: 1,
        spanGaps: true,
      },
      { label: "in service", scale: "servers", stroke: COLORS.inService, width: 2, paths: stepped },
      {
        label: "planned",
        scale: "servers",
        stroke: COLORS.planned,
        width: 2,
        dash: [3, 3],
        paths: stepped,
        show: data.planned !== null,
      },
    ],
    bands: [{ series: [3, 2], fill: COLORS.band }],
    hooks: {
      drawClear: [(u) => drawSpans(u, marks.current)],
      draw: [(u) => drawMarks(u, marks.current)],
    },
  });

  return (
    <div
      tabIndex={0}
      class="chart-focus"
      aria-label="Timeline chart: arrow keys pan, plus and minus zoom, 0 resets"
      onKeyDown={(e) => {
        if (props.onKey(e.key)) e.preventDefault();
      }}
    >
      <Chart
        class="timeline-chart"
        label={`Requests per minute, forecast and servers of ${data.group}`}
        options={options}
        data={aligned}
        range={props.range}
        onRange={(r) => props.onRange({ min: Math.round(r.min), max: Math.round(r.max) })}
      />
    </div>
  );
}

const STRIP = {
  running: "#1f5aa6",
  succeeded: "#1d7a3e",
  failed: "#b3261e",
  rolled_back: "#c77800",
};

/** Deployment bands and event windows, under the series. */
function drawSpans(u: uPlot, data: Timeline): void {
  const { ctx, bbox } = u;
  const x = (ms: number) => u.valToPos(ms / 1000, "x", true);
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  for (const e of data.events) {
    ctx.fillStyle = COLORS.event;
    ctx.fillRect(x(e.from), bbox.top, Math.max(2, x(e.to) - x(e.from)), bbox.height);
  }
  for (const d of data.deployments) {
    const from = x(d.from);
    const to = x(d.to ?? data.now);
    const width = Math.max(4 * (devicePixelRatio || 1), to - from);
    ctx.fillStyle = COLORS.deploy[d.state];
    ctx.fillRect(from, bbox.top, width, bbox.height);
    // A solid strip along the top, so even a short deployment shows at a week's zoom.
    ctx.fillStyle = STRIP[d.state];
    ctx.fillRect(from, bbox.top, width, 8 * (devicePixelRatio || 1));
  }
  ctx.restore();
}

/** Launch and termination marks along the bottom, and the line at now. */
function drawMarks(u: uPlot, data: Timeline): void {
  const { ctx, bbox } = u;
  const x = (ms: number) => u.valToPos(ms / 1000, "x", true);
  const ratio = devicePixelRatio || 1;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  const nowX = x(data.now);
  ctx.strokeStyle = COLORS.now;
  ctx.setLineDash([4 * ratio, 4 * ratio]);
  ctx.lineWidth = ratio;
  ctx.beginPath();
  ctx.moveTo(nowX, bbox.top);
  ctx.lineTo(nowX, bbox.top + bbox.height);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = `${11 * ratio}px sans-serif`;
  ctx.fillStyle = COLORS.now;
  ctx.fillText("now", nowX + 4 * ratio, bbox.top + 12 * ratio);
  const size = 6 * ratio;
  const base = bbox.top + bbox.height - 2 * ratio;
  for (const s of data.servers) {
    const px = x(s.time);
    ctx.fillStyle = s.action === "launch" ? COLORS.launch : COLORS.terminate;
    ctx.beginPath();
    if (s.action === "launch") {
      ctx.moveTo(px, base - size * 1.6);
      ctx.lineTo(px - size, base);
      ctx.lineTo(px + size, base);
    } else {
      ctx.moveTo(px, base);
      ctx.lineTo(px - size, base - size * 1.6);
      ctx.lineTo(px + size, base - size * 1.6);
    }
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}
