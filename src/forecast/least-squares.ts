/**
 * Ordinary least squares for the small regressions of the models (tens of columns, a few
 * thousand rows): normal equations with a tiny ridge, solved by Cholesky.
 */

/**
 * Coefficients b minimising sum w_t (y_t - x_t b)^2 + ridge |b|^2 (w = 1 without `weights`), for the rows of `x` (each a row of
 * the design matrix). The ridge is relative to the mean diagonal of X'X, so it keeps
 * collinear columns solvable without biasing well-posed fits. Returns zeros without rows.
 */
export function leastSquares(
  x: readonly number[][],
  y: readonly number[],
  ridge = 1e-8,
  weights?: readonly number[],
): number[] {
  const p = x[0]?.length ?? 0;
  const xtx = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  const xty = new Array<number>(p).fill(0);
  x.forEach((row, t) => {
    const w = weights ? (weights[t] as number) : 1;
    if (w === 0) return;
    const yt = y[t] as number;
    for (let i = 0; i < p; i++) {
      const ri = (row[i] as number) * w;
      if (ri === 0) continue;
      xty[i] = (xty[i] as number) + ri * yt;
      const line = xtx[i] as number[];
      for (let j = 0; j <= i; j++) line[j] = (line[j] as number) + ri * (row[j] as number);
    }
  });
  let trace = 0;
  for (let i = 0; i < p; i++) trace += (xtx[i] as number[])[i] as number;
  const lambda = (ridge * trace) / Math.max(1, p) + 1e-12;
  for (let i = 0; i < p; i++) {
    const line = xtx[i] as number[];
    line[i] = (line[i] as number) + lambda;
    for (let j = i + 1; j < p; j++) line[j] = (xtx[j] as number[])[i] as number;
  }
  return solveCholesky(xtx, xty);
}

/** Solves A b = v for a symmetric positive definite A (Cholesky). NaN-free input assumed. */
export function solveCholesky(a: readonly number[][], v: readonly number[]): number[] {
  const p = v.length;
  const l = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = (a[i] as number[])[j] as number;
      for (let k = 0; k < j; k++)
        s -= ((l[i] as number[])[k] as number) * ((l[j] as number[])[k] as number);
      if (i === j) (l[i] as number[])[i] = Math.sqrt(Math.max(s, 1e-300));
      else (l[i] as number[])[j] = s / ((l[j] as number[])[j] as number);
    }
  }
  const z = new Array<number>(p).fill(0);
  for (let i = 0; i < p; i++) {
    let s = v[i] as number;
    for (let k = 0; k < i; k++) s -= ((l[i] as number[])[k] as number) * (z[k] as number);
    z[i] = s / ((l[i] as number[])[i] as number);
  }
  const b = new Array<number>(p).fill(0);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let k = i + 1; k < p; k++) s -= ((l[k] as number[])[i] as number) * (b[k] as number);
    b[i] = s / ((l[i] as number[])[i] as number);
  }
  return b;
}

/**
 * Conditional least-squares AR(p) fit of a series (no intercept: the series is a residual),
 * on the targets from index `from` on (≥ p; give the largest order compared, so that fits of
 * several orders are judged on the same rows).
 */
export function fitAutoregression(
  e: readonly number[],
  p: number,
  from = p,
): { coefficients: number[]; variance: number; rows: number } {
  const rows: number[][] = [];
  const target: number[] = [];
  for (let t = Math.max(p, from); t < e.length; t++) {
    rows.push(Array.from({ length: p }, (_, k) => e[t - 1 - k] as number));
    target.push(e[t] as number);
  }
  const coefficients = p > 0 && rows.length > p ? leastSquares(rows, target) : new Array(p).fill(0);
  let sse = 0;
  rows.forEach((row, i) => {
    let f = 0;
    for (let k = 0; k < p; k++) f += (coefficients[k] as number) * (row[k] as number);
    sse += ((target[i] as number) - f) ** 2;
  });
  const n = rows.length;
  return { coefficients, variance: n > 0 ? sse / n : 0, rows: n };
}
