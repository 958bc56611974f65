import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { batchSize, planWaves } from "./plan.js";

const five = ["a", "b", "c", "d", "e"];

describe("planWaves", () => {
  const cases: [string, Parameters<typeof planWaves>, string[][]][] = [
    ["rolling one by one", [five, "rolling", "1"], [["a"], ["b"], ["c"], ["d"], ["e"]]],
    ["rolling by two", [five, "rolling", "2"], [["a", "b"], ["c", "d"], ["e"]]],
    ["rolling by 40%", [five, "rolling", "40%"], [["a", "b"], ["c", "d"], ["e"]]],
    [
      "rolling by 10% rounds up to one",
      [five, "rolling", "10%"],
      [["a"], ["b"], ["c"], ["d"], ["e"]],
    ],
    ["rolling batch larger than fleet", [five, "rolling", "9"], [five]],
    ["canary then batches", [five, "canary", "2"], [["a"], ["b", "c"], ["d", "e"]]],
    ["canary of one server", [["a"], "canary", "2"], [["a"]]],
    ["all at once", [five, "all-at-once", "1"], [five]],
    ["no servers", [[], "rolling", "1"], []],
  ];
  for (const [name, args, expected] of cases) {
    test(name, () => assert.deepEqual(planWaves(...args), expected));
  }

  test("rejects an unknown strategy, naming it", () => {
    assert.throws(() => planWaves(five, "blue-green" as never), /unknown "blue-green"/);
  });
});

describe("batchSize", () => {
  test("rejects zero and garbage", () => {
    assert.throws(() => batchSize("0", 5), /above 0/);
    assert.throws(() => batchSize("two", 5), /count or a percentage/);
    assert.throws(() => batchSize("-1", 5), /count or a percentage/);
  });
  test("percentages floor but never below one", () => {
    assert.equal(batchSize("50%", 5), 2);
    assert.equal(batchSize("1%", 5), 1);
    assert.equal(batchSize("100%", 5), 5);
  });
});
