import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { fitAutoregression, leastSquares, solveCholesky } from "./least-squares.js";

const close = (a: readonly number[], b: readonly number[], tol = 1e-6) =>
  a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] as number)) < tol, `${i}: ${x} vs ${b[i]}`));

describe("leastSquares", () => {
  const cases: { name: string; x: number[][]; y: number[]; want: number[]; weights?: number[] }[] =
    [
      {
        name: "a line through exact points",
        x: [
          [1, 0],
          [1, 1],
          [1, 2],
        ],
        y: [1, 3, 5],
        want: [1, 2],
      },
      {
        name: "the mean for an intercept alone",
        x: [[1], [1], [1], [1]],
        y: [1, 2, 3, 6],
        want: [3],
      },
      {
        name: "weights: a zero weight drops a row",
        x: [
          [1, 0],
          [1, 1],
          [1, 2],
          [1, 3],
        ],
        y: [1, 3, 5, 100],
        weights: [1, 1, 1, 0],
        want: [1, 2],
      },
    ];
  for (const c of cases) {
    test(c.name, () => close(leastSquares(c.x, c.y, 1e-12, c.weights), c.want, 1e-5));
  }
  test("collinear columns stay solvable (the ridge)", () => {
    const b = leastSquares(
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      [2, 4, 6],
    );
    assert.ok(b.every(Number.isFinite));
    close([(b[0] as number) + (b[1] as number)], [2], 1e-4);
  });
  test("solveCholesky solves a 2x2 system", () => {
    close(
      solveCholesky(
        [
          [4, 2],
          [2, 3],
        ],
        [2, 5],
      ),
      [-0.5, 2],
    );
  });
});

describe("fitAutoregression", () => {
  test("recovers an AR(2) process", () => {
    let seed = 3;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.1;
    const e = [0, 0];
    for (let t = 2; t < 5000; t++)
      e.push(0.6 * (e[t - 1] as number) - 0.3 * (e[t - 2] as number) + noise());
    close(fitAutoregression(e, 2).coefficients, [0.6, -0.3], 0.03);
  });
  test("order 0 has no coefficients and the mean square as variance; `from` fixes the rows", () => {
    const fit = fitAutoregression([1, -1, 1, -1], 0, 2);
    assert.deepEqual(fit.coefficients, []);
    assert.equal(fit.rows, 2);
    assert.equal(fit.variance, 1);
  });
});
