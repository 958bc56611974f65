import type { Clock } from "../lib/clock.js";
import { isoTime } from "../lib/clock.js";
import { StrataError } from "../lib/errors.js";
import type { DecisionView, PlanView, ScaleStatusView } from "../wire/scale.js";
import {
  createScaleExecutor,
  type ScaleDecision,
  type ScaleExecutor,
  type ScaleInputs,
  type ScaleMode,
  type ScalePort,
  type ScaleSettings,
} from "./executor.js";
import type { LeadTime } from "./lead-time.js";
import type { ForecasterScore } from "./live-inputs.js";

/** Options of {@link createScaleService}. */
export interface ScaleServiceOptions {
  /** Groups of `scaling:` and their settings. */
  groups: ReadonlyMap<string, ScaleSettings>;
  clock: Clock;
  port: (group: string) => ScalePort;
  inputs: (group: string) => ScaleInputs;
  audit: (action: string, subject: string, detail: Record<string, unknown>) => Promise<void>;
  /**
   * The group's last mode change by `setMode` (the newest `scale.mode` audit entry): at start
   * it is restored while strata.yaml still configures the mode it was changed from.
   */
  lastModeChange?: (group: string) => Promise<{ to: ScaleMode; configured: ScaleMode } | null>;
  /** The group's forecaster's backtest score, shown beside the decisions. */
  forecasterScore?: (group: string) => (now: number) => Promise<ForecasterScore | null>;
}

/** The executors of every configured group, and their views for the API. */
export interface ScaleService {
  /** Restores modes set at run time (see `lastModeChange`), then starts every group's loop. */
  start(): Promise<void>;
  /** Stops them and waits for running decisions. Idempotent. */
  stop(): Promise<void>;
  /** @throws StrataError `not_found` for a group without `scaling:`. */
  plan(group: string): Promise<PlanView>;
  status(group: string): Promise<ScaleStatusView>;
  setMode(group: string, mode: ScaleMode): Promise<ScaleStatusView>;
}

export function createScaleService(options: ScaleServiceOptions): ScaleService {
  const executors = new Map<
    string,
    {
      executor: ScaleExecutor;
      settings: ScaleSettings;
      score: ((now: number) => Promise<ForecasterScore | null>) | null;
    }
  >();
  for (const [group, settings] of options.groups) {
    executors.set(group, {
      settings,
      score: options.forecasterScore?.(group) ?? null,
      executor: createScaleExecutor({
        group,
        settings,
        clock: options.clock,
        port: options.port(group),
        inputs: options.inputs(group),
        audit: options.audit,
      }),
    });
  }
  const find = (group: string) => {
    const found = executors.get(group);
    if (!found)
      throw new StrataError(
        "not_found",
        `[scale] ${group}: no scaling configured for this group (add it under scaling: in strata.yaml)`,
      );
    return found;
  };
  const status = async (group: string): Promise<ScaleStatusView> => {
    const found = find(group);
    const s = await found.executor.status();
    const score = found.score ? await found.score(options.clock.now()).catch(() => null) : null;
    return {
      group,
      mode: s.mode,
      in_service: s.fleet.inService,
      launching: s.fleet.launching,
      away: s.fleet.away,
      draining: s.fleet.draining,
      lead_time: s.lead ? leadView(s.lead) : null,
      last: s.last ? decisionView(s.last) : null,
      recent: s.recent.map(decisionView),
      last_error: s.lastError,
      forecaster: score
        ? {
            model: score.model,
            days: score.days,
            wmape: round(score.wmape),
            p90_coverage: round(score.p90Coverage),
          }
        : null,
    };
  };
  return {
    async start() {
      for (const [group, e] of executors) {
        const change = await options.lastModeChange?.(group);
        if (change && change.configured === e.settings.mode && change.to !== e.settings.mode)
          await e.executor.setMode(change.to);
        e.executor.start();
      }
    },
    stop: async () =>
      void (await Promise.all([...executors.values()].map((e) => e.executor.stop()))),
    async plan(group) {
      const { executor, settings } = find(group);
      const plan = await executor.plan();
      const st = await executor.status();
      return {
        group,
        mode: st.mode,
        generated_at: isoTime(options.clock.now()),
        lead_time: leadView(plan.lead),
        forecast: plan.forecast,
        min: settings.min,
        max: settings.max,
        steps: plan.steps.map((s) => ({
          time: isoTime(s.at),
          launch_by: isoTime(s.launchBy),
          mean_rate: round(s.meanRate),
          p90_rate: round(s.p90Rate),
          peak_ratio: round(s.peakRatio),
          servers: s.servers,
          reason: s.reason,
        })),
      };
    },
    status,
    async setMode(group, mode) {
      await find(group).executor.setMode(mode);
      return status(group);
    },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function leadView(l: LeadTime) {
  return { seconds: Math.round(l.ms / 100) / 10, source: l.source, samples: l.samples };
}

function decisionView(d: ScaleDecision): DecisionView {
  return {
    at: isoTime(d.at),
    mode: d.mode,
    action: d.action,
    count: d.count,
    in_service: d.inService,
    launching: d.launching,
    planned: d.planned,
    observed: d.observed,
    target: d.target,
    acted: d.acted,
    reason: d.reason,
    ...(d.error ? { error: d.error } : {}),
  };
}
