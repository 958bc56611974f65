import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseRetirees, Stabiliser, type RetireCandidate } from "./scale-in.js";

describe("Stabiliser (highest recommendation of the window)", () => {
  it("holds a high recommendation for the window, then follows the lower ones", () => {
    const s = new Stabiliser(10);
    const seen = [
      [0, 8],
      [5, 2],
      [10, 3],
      [11, 2],
      [16, 1],
      [30, 5],
    ].map(([t, r]) => s.record(t!, r!));
    // 8 stays until t=10 (the window reaches back to 0), then 3 until 20, then 5.
    assert.deepEqual(seen, [8, 8, 8, 3, 3, 5]);
  });
  it("a zero window follows every recommendation at once", () => {
    const s = new Stabiliser(0);
    assert.deepEqual([s.record(0, 4), s.record(1, 1), s.record(2, 3)], [4, 1, 3]);
  });
});

describe("chooseRetirees", () => {
  const servers: RetireCandidate[] = [
    { name: "web-1", inService: true, image: "img-new", launchedAt: 100 },
    { name: "web-2", inService: true, image: "img-old", launchedAt: 300 },
    { name: "web-3", inService: false, image: "img-new", launchedAt: 400 },
    { name: "web-4", inService: true, image: "img-old", launchedAt: 200 },
    { name: "web-5", inService: true, image: "img-new", launchedAt: 50 },
  ];
  const cases: [string, number, string[]][] = [
    ["out of service first", 1, ["web-3"]],
    ["then older images, oldest launch first", 3, ["web-3", "web-4", "web-2"]],
    ["then the oldest launches on the current image", 4, ["web-3", "web-4", "web-2", "web-5"]],
    ["never more than there are", 9, ["web-3", "web-4", "web-2", "web-5", "web-1"]],
    ["none", 0, []],
  ];
  for (const [name, count, names] of cases) {
    it(name, () =>
      assert.deepEqual(
        chooseRetirees(servers, count, "img-new").map((s) => s.name),
        names,
      ),
    );
  }
});
