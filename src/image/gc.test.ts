import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planGc, type GcInput } from "./gc.js";
import type { ImageRecord } from "../store/image-repo.js";

let clock = 0;
function img(id: string, patch: Partial<ImageRecord> = {}): ImageRecord {
  clock += 10;
  return {
    id,
    group: "web",
    layer: "app",
    name: id,
    parent: "mw1",
    recipe_hash: null,
    release: null,
    version: null,
    bake_key: id,
    state: "active",
    size: 1,
    created_at: clock,
    baked_at: clock + 1,
    bake_ms: 1,
    error: null,
    ...patch,
  };
}

// mw1 <- a1 a2 a3 (oldest to newest); mw2 <- a4 a5; api has its own chain.
const base = (): ImageRecord[] => [
  img("mw1", { layer: "middleware", parent: null }),
  img("a1"),
  img("a2"),
  img("a3"),
  img("mw2", { layer: "middleware", parent: null }),
  img("a4", { parent: "mw2" }),
  img("a5", { parent: "mw2" }),
  img("api-mw", { group: "api", layer: "middleware", parent: null }),
  img("api-a1", { group: "api", parent: "api-mw" }),
];

const input = (patch: Partial<GcInput> = {}): GcInput => ({
  images: base(),
  channels: [{ name: "web:current", image: "a5", updated_at: 0 }],
  servers: [],
  busy: [],
  keep: 2,
  ...patch,
});

describe("planGc", () => {
  const cases: [string, GcInput, string[]][] = [
    [
      "keeps the newest N app images per group and the middleware they derive from",
      input(),
      ["a3", "a2", "a1", "mw1"],
    ],
    ["keeps more with a larger N", input({ keep: 4 }), ["a1"]],
    [
      "with N = 0 still keeps the channel target and its parent",
      input({ keep: 0 }),
      ["api-a1", "a4", "a3", "a2", "a1", "mw1"],
    ],
    [
      "never deletes a channel target, even an old one, nor its middleware",
      input({ channels: [{ name: "web:current", image: "a1", updated_at: 0 }] }),
      ["a3", "a2"],
    ],
    [
      "never deletes an image a live server was launched from",
      input({
        servers: [
          { name: "web-7", image: "a2" },
          { name: "web-8", image: null },
        ],
      }),
      ["a3", "a1"],
    ],
    ["never deletes an image a bake uses", input({ busy: ["a1"] }), ["a3", "a2"]],
    [
      "deletes killed images, keeps ones being baked",
      input({
        images: [
          ...base(),
          img("k1", { state: "killed", parent: "mw2" }),
          img("s1", { state: "saving", parent: "mw2" }),
        ],
      }),
      ["k1", "a3", "a2", "a1", "mw1"],
    ],
    [
      "keeps the newest middleware of a group even when no app image uses it yet",
      input({ images: [...base(), img("mw3", { layer: "middleware", parent: null })] }),
      ["a3", "a2", "a1", "mw1"],
    ],
  ];
  for (const [name, gcInput, deleted] of cases) {
    test(name, () => {
      const plan = planGc(gcInput);
      assert.deepEqual(
        plan.delete.map((d) => d.id),
        deleted,
      );
      const ids = gcInput.images.map((i) => i.id).sort();
      assert.deepEqual(
        [...plan.delete, ...plan.keep].map((d) => d.id).sort(),
        ids,
        "every image is decided once",
      );
    });
  }

  test("gives the reason an image is kept", () => {
    const plan = planGc(input({ servers: [{ name: "web-7", image: "a2" }] }));
    const reason = (id: string) => plan.keep.find((k) => k.id === id)?.reason;
    assert.equal(reason("a5"), "target of channel web:current");
    assert.equal(reason("a2"), "server web-7 was launched from it");
    assert.equal(reason("mw1"), "parent of a2");
    assert.match(reason("a4") ?? "", /newest 2 app images of web/);
  });
});
