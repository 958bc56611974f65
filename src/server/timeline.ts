import type { ForecastService } from "../forecast/service/forecast-service.js";
import type { Clock } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { AuditEntry, Store } from "../store/store.js";
import type { PlannedServers, StepSeries, TimelineQuery, TimelineView } from "../wire/dashboard.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Longest range one timeline may cover. */
export const MAX_TIMELINE_MS = 31 * DAY_MS;
/** Up to this span observed traffic comes per minute; beyond it per hour (as requests per minute). */
const MINUTE_STEP_UP_TO_MS = 2 * DAY_MS;
/** Audit entries read to replay who was in service; older history is cut off. */
const AUDIT_WINDOW = 50_000;

export interface TimelineDeps {
  store: Store;
  forecasts: ForecastService;
  clock: Clock;
  plannedServers?: PlannedServers;
}

/** One group on one time axis: traffic, forecast, servers, deployments and events. */
export async function timeline(deps: TimelineDeps, query: TimelineQuery): Promise<TimelineView> {
  const { store, forecasts, clock } = deps;
  const now = clock.now();
  const from = query.from ?? now - 7 * DAY_MS;
  const to = query.to ?? now + 2 * DAY_MS;
  if (to <= from)
    throw new StrataError("bad_request", "[dashboard] timeline: to: must be after from");
  if (to - from > MAX_TIMELINE_MS) {
    throw new StrataError(
      "bad_request",
      `[dashboard] timeline: from/to: at most ${MAX_TIMELINE_MS / DAY_MS} days per request`,
    );
  }
  const group = await store.groups.get(query.group);
  if (!group) throw new StrataError("not_found", `[dashboard] no group ${query.group}`);
  const app = group.app;
  const stepMs = to - from <= MINUTE_STEP_UP_TO_MS ? MINUTE_MS : HOUR_MS;

  const observed = { time: [] as number[], rpm: [] as number[] };
  const pastEnd = Math.min(to, now);
  if (app && pastEnd > from) {
    if (stepMs === MINUTE_MS) {
      for (const m of await store.traffic.minutes(app, floor(from, MINUTE_MS), pastEnd)) {
        observed.time.push(m.minute);
        observed.rpm.push(m.total);
      }
    } else {
      for (const h of await store.traffic.hourly(app, floor(from, HOUR_MS), pastEnd)) {
        observed.time.push(h.hour);
        observed.rpm.push(h.minutes > 0 ? h.total / h.minutes : 0);
      }
    }
  }

  const latest = app ? await forecasts.latest(app) : null;
  const forecast = latest && {
    id: latest.id,
    model: latest.model,
    origin: latest.origin,
    created_at: latest.created_at,
    time: latest.hours.map((h) => Date.parse(h.time)),
    mean: latest.hours.map((h) => h.mean / 60),
    p90: latest.hours.map((h) => h.p90 / 60),
  };

  const audit = await store.audit.list({ limit: AUDIT_WINDOW });
  const deployments = (await store.deployments.list({ group: group.name, limit: 500 }))
    .filter((d) => d.created_at < to && (d.finished_at ?? now) >= from)
    .map((d) => ({
      id: d.id,
      version: d.version,
      kind: d.kind,
      state: d.state,
      from: d.created_at,
      to: d.finished_at,
    }))
    .reverse();
  const events = app
    ? (await forecasts.events(app))
        .map((e) => ({
          id: e.id,
          from: Date.parse(e.from),
          to: Date.parse(e.to),
          factor: e.factor,
          note: e.note,
        }))
        .filter((e) => e.from < to && e.to > from)
    : [];

  return {
    group: group.name,
    app,
    from,
    to,
    now,
    step_ms: stepMs,
    observed,
    forecast,
    in_service: inServiceSeries(audit, group.name, from, Math.min(to, now)),
    planned: mergePlans(
      plannedFromAudit(audit, group.name, from, Math.min(to, now)),
      deps.plannedServers ? await deps.plannedServers(group.name, Math.max(from, now), to) : null,
    ),
    servers: launchesAndTerminations(audit, group.name, from, to),
    deployments,
    events,
  };
}

/**
 * Servers of a group in the balancer over [from, to], replayed from the audit
 * log's `server.in_service` / `server.out_of_service` entries. A control-plane
 * start (`server.start`) empties the balancer: membership lives in memory.
 */
export function inServiceSeries(
  entries: AuditEntry[],
  group: string,
  from: number,
  to: number,
): StepSeries {
  const serving = new Set<string>();
  const series: StepSeries = { time: [], count: [] };
  const push = (time: number) => {
    const count = serving.size;
    const last = series.count.length - 1;
    if (last >= 0 && series.time[last] === time) series.count[last] = count;
    else if (last < 0 || series.count[last] !== count) {
      series.time.push(time);
      series.count.push(count);
    }
  };
  let started = false;
  const oldestFirst = [...entries].sort((a, b) => a.at - b.at || a.id - b.id);
  for (const entry of oldestFirst) {
    if (entry.at > to) break;
    if (!started && entry.at >= from) {
      push(from);
      started = true;
    }
    const before = serving.size;
    if (entry.action === "server.start") serving.clear();
    else if (entry.detail.group !== group) continue;
    else if (entry.action === "server.in_service") serving.add(entry.subject);
    else if (entry.action === "server.out_of_service" || entry.action === "server.terminate")
      serving.delete(entry.subject);
    if (started && serving.size !== before) push(entry.at);
  }
  if (!started) push(from);
  // The last step holds to the end of the range, so a chart draws it all the way.
  if (series.time[series.time.length - 1] !== to) {
    series.time.push(to);
    series.count.push(serving.size);
  }
  return series;
}

/**
 * What the scaler planned for a group as it decided: `scale.*` audit entries of the group
 * (subject or `detail.group`) carrying `detail.planned`. Null when there is none.
 */
export function plannedFromAudit(
  entries: AuditEntry[],
  group: string,
  from: number,
  to: number,
): StepSeries | null {
  const series: StepSeries = { time: [], count: [] };
  let before: number | null = null;
  const oldestFirst = [...entries].sort((a, b) => a.at - b.at || a.id - b.id);
  for (const e of oldestFirst) {
    const planned = e.detail.planned;
    if (!e.action.startsWith("scale.") || typeof planned !== "number") continue;
    if (e.subject !== group && e.detail.group !== group) continue;
    if (e.at > to) break;
    if (e.at < from) {
      before = planned;
      continue;
    }
    if (series.time.length === 0 && before !== null && e.at > from) {
      series.time.push(from);
      series.count.push(before);
    }
    if (series.count[series.count.length - 1] !== planned) {
      series.time.push(e.at);
      series.count.push(planned);
    }
  }
  if (series.time.length === 0 && before !== null) {
    series.time.push(from);
    series.count.push(before);
  }
  return series.time.length > 0 ? series : null;
}

/** The past plan then the schedule ahead, on one step series; null when both are. */
export function mergePlans(past: StepSeries | null, ahead: StepSeries | null): StepSeries | null {
  if (!past || past.time.length === 0) return ahead && ahead.time.length > 0 ? ahead : null;
  if (!ahead || ahead.time.length === 0) return past;
  const cut = ahead.time[0]!;
  const keep = past.time.findIndex((t) => t >= cut);
  const end = keep < 0 ? past.time.length : keep;
  return {
    time: [...past.time.slice(0, end), ...ahead.time],
    count: [...past.count.slice(0, end), ...ahead.count],
  };
}

function launchesAndTerminations(
  entries: AuditEntry[],
  group: string,
  from: number,
  to: number,
): TimelineView["servers"] {
  return entries
    .filter(
      (e) =>
        (e.action === "server.launch" || e.action === "server.terminate") &&
        e.detail.group === group &&
        e.at >= from &&
        e.at < to,
    )
    .map((e) => ({
      time: e.at,
      server: e.subject,
      action: e.action === "server.launch" ? ("launch" as const) : ("terminate" as const),
      reason: reasonOf(e),
    }))
    .sort((a, b) => a.time - b.time);
}

function reasonOf(entry: AuditEntry): string {
  const { reason, image } = entry.detail;
  if (typeof reason === "string" && reason) return reason;
  if (entry.action === "server.launch")
    return typeof image === "string" && image ? `launched from image ${image}` : "launched";
  return "terminated";
}

function floor(ms: number, step: number): number {
  return Math.floor(ms / step) * step;
}
