import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createEventHub, topicOf } from "./event-hub.js";

const clock = { now: () => 1_000, sleep: async () => {} };

describe("event hub", () => {
  test("ids grow by one per event, under one boot prefix", () => {
    const hub = createEventHub({ clock });
    const boot = hub.lastId().split("-")[0];
    assert.equal(hub.lastId(), `${boot}-0`);
    const a = hub.publish("server", { n: 1 });
    const b = hub.publish("server", { n: 2 });
    assert.deepEqual([a.id, b.id], [`${boot}-1`, `${boot}-2`]);
    assert.equal(hub.lastId(), b.id);
  });

  test("since replays what came after an id; up to date is empty", () => {
    const hub = createEventHub({ clock });
    const start = hub.lastId();
    const events = [1, 2, 3].map((n) => hub.publish("image", { n }));
    assert.deepEqual(hub.since(start), events);
    assert.deepEqual(hub.since(events[0]!.id), events.slice(1));
    assert.deepEqual(hub.since(events[2]!.id), []);
  });

  test("since is null when the events are gone or the id is not this boot's", () => {
    const hub = createEventHub({ clock, capacity: 3 });
    const start = hub.lastId();
    const events = [1, 2, 3, 4, 5].map((n) => hub.publish("image", { n }));
    assert.equal(hub.since(start), null, "events 1 and 2 were evicted");
    assert.deepEqual(hub.since(events[1]!.id), events.slice(2), "3, 4, 5 are all there");
    assert.equal(hub.since("deadbeef-2"), null, "another boot");
    assert.equal(hub.since(`${start.split("-")[0]}-99`), null, "from the future");
    assert.equal(hub.since("garbage"), null);
  });

  test("listeners get every event; a throwing listener does not stop the others", () => {
    const hub = createEventHub({ clock });
    const seen: string[] = [];
    const stop = hub.subscribe(() => {
      throw new Error("boom");
    });
    hub.subscribe((e) => seen.push(e.id));
    const originalError = console.error;
    console.error = () => {};
    try {
      const e = hub.publish("release", {});
      assert.deepEqual(seen, [e.id]);
    } finally {
      console.error = originalError;
    }
    assert.equal(hub.listeners(), 2);
    stop();
    assert.equal(hub.listeners(), 1);
  });

  test("audit actions map to topics", () => {
    const cases: [string, string][] = [
      ["deploy.start", "deployment"],
      ["rollback.succeeded", "deployment"],
      ["server.in_service", "server"],
      ["agent.join", "server"],
      ["server.start", "audit"],
      ["image.bake.queued", "image"],
      ["release.create", "release"],
      ["forecast.run", "forecast"],
      ["scale.launch", "scale"],
      ["something.else", "audit"],
    ];
    for (const [action, topic] of cases) assert.equal(topicOf(action), topic, action);
  });
});
