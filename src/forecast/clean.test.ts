import { test } from "node:test";
import assert from "node:assert/strict";
import { clipOutliers, withClippedHistory } from "./clean.js";

/** `days` days of a daily cycle 100 + 10 × (hour mod 3), a 03:00 peak of 300, a little noise. */
function daily(days: number): number[] {
  return Array.from({ length: days * 24 }, (_, i) => {
    const h = i % 24;
    return (h === 3 ? 300 : 100 + 10 * (h % 3)) + ((i * 7) % 5) - 2;
  });
}

test("clipOutliers, table", () => {
  const cases: {
    name: string;
    values: number[];
    k: number;
    /** Hours expected to change, with the bound they should land under (or over). */
    clipped: { at: number; below?: number; above?: number }[];
  }[] = [
    { name: "a regular series is left alone", values: daily(7), k: 4, clipped: [] },
    {
      // The daily 03:00 peak repeats: its own reference, never clipped. A one-off burst is.
      name: "a one-off burst is pulled back, a daily peak stays",
      values: daily(7).map((x, i) => (i === 4 * 24 + 20 ? 3000 : x)),
      k: 4,
      clipped: [{ at: 4 * 24 + 20, below: 150 }],
    },
    {
      name: "a drop is pushed up",
      values: daily(7).map((x, i) => (i === 2 * 24 + 10 ? 0 : x)),
      k: 4,
      clipped: [{ at: 2 * 24 + 10, above: 80 }],
    },
    {
      // The burst at the end of the history has only earlier days as reference.
      name: "the last hour has a one-sided reference",
      values: daily(7).map((x, i) => (i === 7 * 24 - 1 ? 900 : x)),
      k: 4,
      clipped: [{ at: 7 * 24 - 1, below: 150 }],
    },
    { name: "one day has no reference: unchanged", values: [5, 900, 5, 5], k: 3, clipped: [] },
    {
      // Regression: with two days of reference the median of the burst and one normal day
      // made the normal days look low, and pushed them up to the burst (the reference must
      // count the hour itself, so one outlier never moves its neighbours').
      name: "three days, a burst on the last: only the burst moves",
      values: daily(3).map((x, i) => (i === 60 ? 50 * x : x)),
      k: 4,
      clipped: [{ at: 60, below: 150 }],
    },
    { name: "empty", values: [], k: 3, clipped: [] },
  ];
  for (const c of cases) {
    const out = clipOutliers(c.values, { k: c.k });
    assert.equal(out.length, c.values.length, c.name);
    const changed = out.flatMap((x, i) => (x !== c.values[i] ? [i] : []));
    assert.deepEqual(
      changed,
      c.clipped.map((x) => x.at),
      c.name,
    );
    for (const x of c.clipped) {
      const v = out[x.at] as number;
      if (x.below !== undefined) assert.ok(v < x.below, `${c.name}: ${v}`);
      if (x.above !== undefined) assert.ok(v > x.above, `${c.name}: ${v}`);
    }
  }
});

test("clipOutliers is pure and a larger k clips less", () => {
  const values = daily(10).map((x, i) => (i % 37 === 0 ? x * 1.6 : x));
  const copy = [...values];
  const count = (k: number) => clipOutliers(values, { k }).filter((x, i) => x !== values[i]).length;
  assert.ok(count(3) >= count(5) && count(5) >= count(8), `${count(3)} ${count(5)} ${count(8)}`);
  assert.deepEqual(values, copy);
});

test("withClippedHistory fits the wrapped model on the clipped history under the same name", () => {
  let seen: readonly number[] = [];
  const model = {
    name: "spy",
    description: "spy",
    predict: (h: { values: readonly number[] }) => ((seen = h.values), []),
  };
  const values = daily(7).map((x, i) => (i === 100 ? 5000 : x));
  const wrapped = withClippedHistory(model, { k: 4 });
  wrapped.predict({ start: 0, values }, 0);
  assert.equal(wrapped.name, "spy");
  assert.ok((seen[100] as number) < 200);
});
