/** Options of {@link nelderMead}. */
export interface NelderMeadOptions {
  /** Objective evaluations allowed. @default 200 */
  maxEvaluations?: number;
  /** Initial simplex step per coordinate. @default 0.5 */
  step?: number;
  /** Stop when the simplex' objective values differ by less than this (relative). @default 1e-6 */
  tolerance?: number;
}

/** Minimises `f` from `x0` by the Nelder–Mead simplex method (standard coefficients). */
export function nelderMead(
  f: (x: number[]) => number,
  x0: number[],
  options: NelderMeadOptions = {},
): { x: number[]; value: number; evaluations: number } {
  const max = options.maxEvaluations ?? 200;
  const step = options.step ?? 0.5;
  const tol = options.tolerance ?? 1e-6;
  const dim = x0.length;
  let evaluations = 0;
  const evalAt = (x: number[]) => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Infinity;
  };
  let simplex = [x0, ...x0.map((_, i) => x0.map((v, j) => (i === j ? v + step : v)))].map((x) => ({
    x,
    v: evalAt(x),
  }));
  while (evaluations < max) {
    simplex.sort((a, b) => a.v - b.v);
    const best = simplex[0] as { x: number[]; v: number };
    const worst = simplex[dim] as { x: number[]; v: number };
    if (Math.abs(worst.v - best.v) <= tol * (Math.abs(best.v) + 1e-12)) break;
    const centroid = Array.from(
      { length: dim },
      (_, j) => simplex.slice(0, dim).reduce((s, p) => s + (p.x[j] as number), 0) / dim,
    );
    const along = (t: number) => centroid.map((c, j) => c + t * (c - (worst.x[j] as number)));
    const reflected = along(1);
    const vr = evalAt(reflected);
    const second = simplex[dim - 1] as { v: number };
    if (vr < best.v) {
      const expanded = along(2);
      const ve = evalAt(expanded);
      simplex[dim] = ve < vr ? { x: expanded, v: ve } : { x: reflected, v: vr };
    } else if (vr < second.v) {
      simplex[dim] = { x: reflected, v: vr };
    } else {
      const contracted = vr < worst.v ? along(0.5) : along(-0.5);
      const vc = evalAt(contracted);
      if (vc < Math.min(vr, worst.v)) simplex[dim] = { x: contracted, v: vc };
      else {
        simplex = simplex.map((p, i) =>
          i === 0
            ? p
            : {
                x: p.x.map((v, j) => (best.x[j] as number) + 0.5 * (v - (best.x[j] as number))),
                v: 0,
              },
        );
        for (let i = 1; i <= dim; i++)
          (simplex[i] as { x: number[]; v: number }).v = evalAt((simplex[i] as { x: number[] }).x);
      }
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  const top = simplex[0] as { x: number[]; v: number };
  return { x: top.x, value: top.v, evaluations };
}
