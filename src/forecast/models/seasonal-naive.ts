import type { PointModel } from "../model.js";
import { DAY_HOURS, WEEK_HOURS } from "../series.js";

/** Options of {@link createSeasonalNaive}. */
export interface SeasonalNaiveOptions {
  /** Season length in hours: 24 (same hour yesterday) or 168 (same hour last week). */
  period: number;
}

/** Seasonal naive: every hour repeats the same hour one season earlier. */
export function createSeasonalNaive(options: SeasonalNaiveOptions): PointModel {
  const { period } = options;
  const name =
    period === WEEK_HOURS
      ? "snaive-week"
      : period === DAY_HOURS
        ? "snaive-day"
        : `snaive-${period}h`;
  return {
    name,
    description: `same hour one ${period === WEEK_HOURS ? "week" : period === DAY_HOURS ? "day" : `${period} h`} earlier`,
    predict(history, horizon) {
      const v = history.values;
      const n = v.length;
      const out: number[] = [];
      for (let h = 0; h < horizon; h++) {
        if (n === 0) {
          out.push(0);
          continue;
        }
        // With less than a season of history, repeat the last day (or the last value).
        const p = n >= period ? period : n >= DAY_HOURS ? DAY_HOURS : 1;
        out.push(v[n - p + (h % p)] as number);
      }
      return out;
    },
  };
}
