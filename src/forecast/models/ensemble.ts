import type { PointModel } from "../model.js";

/** Options of {@link createEnsemble}. */
export interface EnsembleOptions {
  name: string;
  /** Members averaged with equal weights. */
  members: PointModel[];
}

/** Equal-weight mean of several point models: often steadier than any one of them. */
export function createEnsemble(options: EnsembleOptions): PointModel {
  const { members } = options;
  return {
    name: options.name,
    description: `mean of ${members.map((m) => m.name).join(", ")}`,
    predict(history, horizon) {
      const all = members.map((m) => m.predict(history, horizon));
      return Array.from(
        { length: horizon },
        (_, h) => all.reduce((s, f) => s + (f[h] as number), 0) / all.length,
      );
    },
  };
}
