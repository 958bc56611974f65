import type { PointModel } from "../model.js";
import { median, WEEK_HOURS } from "../series.js";
import { repeatLastDay } from "./profile.js";

/** Options of {@link createSeasonalMedian}. */
export interface SeasonalMedianOptions {
  /** Registry name. @default "seasonal-median" */
  name?: string;
  /** Past weeks whose same hour of week is taken the median of. @default 3 */
  weeks?: number;
  /** Recent hours compared with their own seasonal median to scale the forecast. @default 24 */
  levelHours?: number;
}

/**
 * Median of the same hour of week over the last `weeks` weeks, scaled by the recent level:
 * the ratio of the last `levelHours` hours to what the same rule said for them.
 */
export function createSeasonalMedian(options: SeasonalMedianOptions = {}): PointModel {
  const weeks = options.weeks ?? 3;
  const levelHours = options.levelHours ?? 24;
  return {
    name: options.name ?? "seasonal-median",
    description: `median of the same hour over ${weeks} weeks x level of the last ${levelHours} h`,
    predict(history, horizon) {
      const v = history.values;
      const n = v.length;
      if (n < WEEK_HOURS) return repeatLastDay(v, horizon);
      // Median over up to `weeks` earlier weeks of hour t, using only hours before `before`.
      const seasonal = (t: number, before: number) => {
        const xs: number[] = [];
        for (let j = 1; xs.length < weeks && t - j * WEEK_HOURS >= 0; j++) {
          if (t - j * WEEK_HOURS < before) xs.push(v[t - j * WEEK_HOURS] as number);
        }
        return median(xs);
      };
      let actual = 0;
      let expected = 0;
      for (let t = Math.max(WEEK_HOURS, n - levelHours); t < n; t++) {
        actual += v[t] as number;
        expected += seasonal(t, t);
      }
      const ratio = expected > 0 && actual > 0 ? actual / expected : 1;
      return Array.from({ length: horizon }, (_, h) => seasonal(n + h, n) * ratio);
    },
  };
}
