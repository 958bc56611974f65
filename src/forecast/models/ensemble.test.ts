import { test } from "node:test";
import assert from "node:assert/strict";
import type { PointModel } from "../model.js";
import { createEnsemble } from "./ensemble.js";
import { runPointModelContract } from "../point-model.contract.js";
import { createProfileModel } from "./profile.js";
import { createSeasonalMedian } from "./seasonal-median.js";

const constant = (name: string, v: number): PointModel => ({
  name,
  description: name,
  predict: (_h, horizon) => new Array(horizon).fill(v),
});

test("createEnsemble averages its members hour by hour", () => {
  const e = createEnsemble({
    name: "mix",
    members: [constant("a", 10), constant("b", 30), constant("c", 20)],
  });
  assert.deepEqual(e.predict({ start: 0, values: [] }, 3), [20, 20, 20]);
  assert.equal(e.name, "mix");
  assert.match(e.description, /a, b, c/);
});

runPointModelContract({
  create: () =>
    createEnsemble({
      name: "profile+median",
      members: [createProfileModel(), createSeasonalMedian()],
    }),
});
